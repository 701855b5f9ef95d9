// PyTorch <-> atrous weights: plan every copy from names and shapes first (so a bad file changes nothing), then
// copy tensor by tensor, permuting OIHW conv weights to [O,KH,KW,I] on the way in and back on the way out.
#include "models/pytorch_weights.h"

#include <functional>
#include <set>
#include <utility>

#include "core/autograd.h"

namespace atrous {
namespace {

constexpr const char* kNumBatchesTracked = "num_batches_tracked";
constexpr size_t kListedNames = 8;  // names quoted in one error message before "... and N more"

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_num_batches_tracked(const std::string& name) {
  return name == kNumBatchesTracked || ends_with(name, std::string(".") + kNumBatchesTracked);
}

bool under_any(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes)
    if (starts_with(name, p)) return true;
  return false;
}

std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < kListedNames; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kListedNames) out += ", ... and " + std::to_string(names.size() - kListedNames) + " more";
  return out;
}

enum class Convert { none, oihw_to_ohwi, linear_to_1x1 };

// How a source tensor of shape `s` becomes a target of shape `t`, and the shape it then has.
std::pair<Convert, Shape> conversion(const Shape& s, const Shape& t, bool pytorch_layout) {
  if (!pytorch_layout) return {Convert::none, s};
  if (s.size() == 4) return {Convert::oihw_to_ohwi, Shape{s[0], s[2], s[3], s[1]}};
  if (s.size() == 2 && t.size() == 4 && t[1] == 1 && t[2] == 1) return {Convert::linear_to_1x1, {s[0], 1, 1, s[1]}};
  return {Convert::none, s};
}

struct SourceEntry {
  std::string name;
  Shape shape;
};

struct Copy {
  std::string source;
  Tensor target;
  Convert convert = Convert::none;
  Shape converted_shape;
};

struct Plan {
  std::vector<Copy> copies;
  ImportReport report;
};

std::map<std::string, Tensor> module_tensors(const Module& module) {
  std::map<std::string, Tensor> out;
  for (const NamedTensor& p : module.named_parameters()) out.emplace(p.name, p.tensor);
  for (const NamedTensor& b : module.named_buffers()) out.emplace(b.name, b.tensor);
  return out;
}

std::string renamed(const std::string& name, const std::vector<PrefixRename>& renames) {
  for (const PrefixRename& r : renames)
    if (starts_with(name, r.from)) return r.to + name.substr(r.from.size());
  return name;
}

// `where` names the file (or "a state dict") in messages; `op` the public function.
Plan plan_import(const std::vector<SourceEntry>& sources, const Module& module, const ImportOptions& options,
                 bool pytorch_layout, const std::string& op, const std::string& where) {
  const std::map<std::string, Tensor> targets = module_tensors(module);
  Plan plan;
  std::vector<std::string> unexpected;
  std::map<std::string, std::string> filled;  // target -> source
  for (const SourceEntry& source : sources) {
    if (under_any(source.name, options.skip_prefixes)) {
      plan.report.skipped.push_back(source.name);
      continue;
    }
    const std::string name = renamed(source.name, options.renames);
    auto target = targets.find(name);
    if (target == targets.end()) {
      // PyTorch's BN step counter has no counterpart here (our BN takes a fixed momentum).
      if (is_num_batches_tracked(name)) continue;
      unexpected.push_back(name == source.name ? name : source.name + " (as " + name + ")");
      continue;
    }
    const Shape& target_shape = target->second.shape();
    auto [convert, converted] = conversion(source.shape, target_shape, pytorch_layout);
    ATROUS_CHECK(converted == target_shape, op, ": ", where, ": tensor '", source.name, "' has shape ",
                 shape_str(source.shape),
                 pytorch_layout && convert != Convert::none ? " (" + shape_str(converted) + " in our layout)" : "",
                 ", but the model's '", name, "' is ", shape_str(target_shape),
                 " (skip it explicitly to leave that tensor as it is)");
    auto [previous, fresh] = filled.emplace(name, source.name);
    ATROUS_CHECK(fresh, op, ": ", where, ": tensors '", previous->second, "' and '", source.name,
                 "' both map to the model's '", name, "'");
    plan.copies.push_back({source.name, target->second, convert, converted});
  }
  std::vector<std::string> missing;
  for (const auto& [name, tensor] : targets) {
    if (filled.count(name)) continue;
    if (!options.target_prefixes.empty() && !under_any(name, options.target_prefixes)) continue;
    missing.push_back(name + " " + shape_str(tensor.shape()));
  }
  if (options.strict) {
    ATROUS_CHECK(unexpected.empty(), op, ": ", where, ": ", unexpected.size(), " unexpected tensor(s) not in the ",
                 module.type_name(), ": ", listed(unexpected),
                 " (skip them with a skip prefix, rename them, or load non-strictly)");
    ATROUS_CHECK(missing.empty(), op, ": ", where, ": ", missing.size(), " tensor(s) of the ", module.type_name(),
                 " missing: ", listed(missing));
  }
  plan.report.unexpected = std::move(unexpected);
  plan.report.missing = std::move(missing);
  plan.report.loaded = static_cast<int>(plan.copies.size());
  return plan;
}

void apply(const Plan& plan, const std::function<Tensor(const std::string&)>& load) {
  NoGradGuard no_grad;
  for (const Copy& c : plan.copies) {
    Tensor value = load(c.source).detach().to(Device::cpu());
    if (c.convert == Convert::oihw_to_ohwi) value = value.permute({0, 2, 3, 1}).contiguous();
    if (c.convert == Convert::linear_to_1x1) value = value.contiguous().reshape(c.converted_shape);
    Tensor destination = c.target.detach();  // same storage, outside autograd
    destination.copy_(value.to(destination.dtype()).to(destination.device()));
  }
}

ImportReport import_file(const SafetensorsFile& file, Module& module, const ImportOptions& options,
                         bool pytorch_layout, const std::string& op) {
  std::vector<SourceEntry> sources;
  for (const std::string& name : file.names()) sources.push_back({name, file.info(name).shape});
  const Plan plan = plan_import(sources, module, options, pytorch_layout, op, file.path());
  apply(plan, [&file](const std::string& name) { return file.load(name); });
  return plan.report;
}

bool has_tensor_under(const Module& module, const std::string& prefix) {
  for (const auto& [name, t] : module_tensors(module))
    if (starts_with(name, prefix)) return true;
  return false;
}

}  // namespace

std::vector<std::string> ImportReport::lines() const {
  std::vector<std::string> out;
  for (const std::string& n : skipped) out.push_back("skipped: " + n);
  for (const std::string& n : unexpected) out.push_back("unexpected: " + n);
  for (const std::string& n : missing) out.push_back("missing: " + n);
  return out;
}

ImportOptions torchvision_resnet_import_options(const std::string& backbone_prefix) {
  ImportOptions o;
  o.skip_prefixes = {"fc."};
  o.renames = {{"", backbone_prefix}};
  if (!backbone_prefix.empty()) o.target_prefixes = {backbone_prefix};
  return o;
}

ImportOptions torchvision_vgg16_import_options() {
  ImportOptions o;
  o.skip_prefixes = {"classifier."};
  o.target_prefixes = {"features."};
  return o;
}

ImportReport load_pytorch_state_dict(Module& module, const std::map<std::string, Tensor>& state,
                                     const ImportOptions& options) {
  std::vector<SourceEntry> sources;
  for (const auto& [name, t] : state) {
    ATROUS_CHECK(t.defined(), "load_pytorch_state_dict: tensor '", name, "' is undefined");
    sources.push_back({name, t.shape()});
  }
  const Plan plan = plan_import(sources, module, options, /*pytorch_layout=*/true, "load_pytorch_state_dict",
                                "a state dict");
  apply(plan, [&state](const std::string& name) { return state.at(name); });
  return plan.report;
}

ImportReport import_pytorch_weights(const SafetensorsFile& file, Module& module, const ImportOptions& options) {
  return import_file(file, module, options, /*pytorch_layout=*/true, "import_pytorch_weights");
}

ImportReport import_pytorch_weights(const std::string& path, Module& module, const ImportOptions& options) {
  return import_pytorch_weights(SafetensorsFile(path), module, options);
}

std::map<std::string, Tensor> to_pytorch_state_dict(const Module& module) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : module.state_dict()) {
    Tensor value = t.detach().to(Device::cpu());
    out.emplace(name, value.dim() == 4 ? value.permute({0, 3, 1, 2}).contiguous() : value.clone());
  }
  return out;
}

void export_pytorch_weights(const std::string& path, const Module& module,
                            const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta = metadata;
  meta["format"] = "pt";
  meta[kLayoutKey] = kPytorchLayout;
  save_safetensors(path, to_pytorch_state_dict(module), meta);
}

void save_atrous_weights(const std::string& path, const Module& module,
                         const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta = metadata;
  meta[kLayoutKey] = kAtrousLayout;
  save_safetensors(path, module.state_dict(), meta);
}

const char* weights_layout_name(WeightsLayout layout) {
  switch (layout) {
    case WeightsLayout::atrous: return "atrous (NHWC, conv weights [O,KH,KW,I])";
    case WeightsLayout::pytorch: return "PyTorch (conv weights OIHW)";
    case WeightsLayout::atrous_checkpoint: return "atrous training checkpoint";
  }
  return "?";
}

WeightsLayout detect_weights_layout(const SafetensorsFile& file, const Module& module) {
  const auto& meta = file.metadata();
  auto value = [&meta](const std::string& key) {
    auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  if (value("atrous.format") == "checkpoint") return WeightsLayout::atrous_checkpoint;
  const std::string layout = value(kLayoutKey);
  if (layout == kAtrousLayout) return WeightsLayout::atrous;
  if (layout == kPytorchLayout) return WeightsLayout::pytorch;
  ATROUS_CHECK(layout.empty(), "load_weights: ", file.path(), ": unknown layout '", layout, "' in the metadata (",
               kAtrousLayout, " or ", kPytorchLayout, ")");
  if (value("format") == "pt") return WeightsLayout::pytorch;

  int atrous_votes = 0, pytorch_votes = 0, ambiguous = 0;
  std::string atrous_example, pytorch_example;
  for (const auto& [name, target] : module_tensors(module)) {
    if (target.dim() != 4 || !file.contains(name)) continue;
    const Shape& s = file.info(name).shape;
    if (s.size() != 4) continue;
    const bool as_stored = s == target.shape();
    const bool permuted = Shape{s[0], s[2], s[3], s[1]} == target.shape();
    if (as_stored && permuted) {
      ++ambiguous;
    } else if (as_stored) {
      if (atrous_votes++ == 0) atrous_example = name + " " + shape_str(s);
    } else if (permuted) {
      if (pytorch_votes++ == 0) pytorch_example = name + " " + shape_str(s);
    }
  }
  ATROUS_CHECK(atrous_votes == 0 || pytorch_votes == 0, "load_weights: ", file.path(),
               ": conv weights in both layouts (", atrous_example, " is [O,KH,KW,I], ", pytorch_example,
               " is OIHW); the file is damaged or mixes sources");
  if (pytorch_votes > 0) return WeightsLayout::pytorch;
  ATROUS_CHECK(atrous_votes > 0 || ambiguous == 0, "load_weights: ", file.path(), ": cannot tell the layout (",
               ambiguous, " conv weight(s) fit both [O,KH,KW,I] and OIHW, and the metadata has no '", kLayoutKey,
               "'); write it with save_atrous_weights or export_pytorch_weights");
  return WeightsLayout::atrous;
}

ImportReport load_weights_any(const std::string& path, Module& module, bool strict) {
  const SafetensorsFile file(path);
  ImportOptions options;
  options.strict = strict;
  switch (detect_weights_layout(file, module)) {
    case WeightsLayout::pytorch:
      // torchvision's segmentation checkpoints carry an auxiliary FCN head (aux_loss) that inference never runs.
      if (!has_tensor_under(module, "aux_classifier.")) options.skip_prefixes.push_back("aux_classifier.");
      return import_file(file, module, options, /*pytorch_layout=*/true, "load_weights");
    case WeightsLayout::atrous_checkpoint:
      options.skip_prefixes = {"optimizer."};
      options.renames = {{"model.", ""}};
      return import_file(file, module, options, /*pytorch_layout=*/false, "load_weights");
    case WeightsLayout::atrous:
      break;
  }
  return import_file(file, module, options, /*pytorch_layout=*/false, "load_weights");
}

}  // namespace atrous
