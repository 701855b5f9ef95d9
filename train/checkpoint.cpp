// Module weights and training checkpoints on top of safetensors files. Loads are planned (names, shapes) from the
// header first and applied afterwards, so a mismatching file is rejected before anything is changed.
#include "train/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_map>
#include <utility>

#include "models/model_metadata.h"
#include "models/pytorch_weights.h"

#include "core/autograd.h"

namespace atrous {
namespace {

constexpr const char* kFormatKey = "atrous.format";
constexpr const char* kFormatValue = "checkpoint";
constexpr const char* kVersionKey = "atrous.format_version";
constexpr const char* kVersion = "1";
const std::string kModelPrefix = "model.";
const std::string kMomentumPrefix = "optimizer.momentum.";
const std::string kExtraPrefix = "extra.";

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// ---- module loads: plan, then apply ----

struct Copy {
  Tensor target;
  std::string entry;  // name in the file
};

struct LoadPlan {
  std::vector<Copy> copies;
  std::vector<std::string> skipped;  // non-strict report
};

LoadPlan plan_module_load(const SafetensorsFile& file, const Module& module, bool strict, const std::string& prefix,
                          const char* op) {
  LoadPlan plan;
  std::vector<NamedTensor> targets = module.named_parameters();
  for (const NamedTensor& b : module.named_buffers()) targets.push_back(b);
  std::set<std::string> used;
  for (const NamedTensor& target : targets) {
    const std::string entry = prefix + target.name;
    if (!file.contains(entry)) {
      ATROUS_CHECK(!strict, op, ": ", file.path(), ": missing tensor '", entry, "' (", target.tensor.description(),
                   ") for ", module.type_name());
      plan.skipped.push_back("missing: " + target.name);
      continue;
    }
    used.insert(entry);
    const SafetensorsInfo& info = file.info(entry);
    if (info.shape != target.tensor.shape()) {
      ATROUS_CHECK(!strict, op, ": ", file.path(), ": tensor '", entry, "' has shape ", shape_str(info.shape),
                   ", the model expects ", shape_str(target.tensor.shape()));
      plan.skipped.push_back("shape mismatch: " + target.name + " " + shape_str(info.shape) + " vs " +
                             shape_str(target.tensor.shape()));
      continue;
    }
    plan.copies.push_back({target.tensor, entry});
  }
  for (const std::string& name : file.names()) {
    if (!starts_with(name, prefix) || used.count(name)) continue;
    ATROUS_CHECK(!strict, op, ": ", file.path(), ": unexpected tensor '", name, "' ", file.info(name).dtype,
                 shape_str(file.info(name).shape), " for ", module.type_name());
    plan.skipped.push_back("unexpected: " + name.substr(prefix.size()));
  }
  return plan;
}

// One tensor in memory at a time beyond the model itself.
void apply(const SafetensorsFile& file, const LoadPlan& plan) {
  NoGradGuard no_grad;
  for (const Copy& c : plan.copies) {
    Tensor value = file.load(c.entry).to(c.target.dtype()).to(c.target.device());
    Tensor destination = c.target.detach();  // same storage; copy_ outside autograd
    destination.copy_(value);
  }
}

// ---- metadata scalars: exact decimal text ----

std::string double_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);  // 17 significant digits round-trip every double
  return buf;
}

struct MetadataReader {
  const SafetensorsFile& file;

  const std::string& text(const std::string& key) const {
    auto it = file.metadata().find(key);
    ATROUS_CHECK(it != file.metadata().end(), "load_checkpoint: ", file.path(), ": metadata lacks '", key, "'");
    return it->second;
  }
  [[noreturn]] void bad(const std::string& key, const char* expected) const {
    ATROUS_FAIL("load_checkpoint: ", file.path(), ": metadata '", key, "' = '", text(key), "' is not ", expected);
  }
  uint64_t u64(const std::string& key) const {
    const std::string& s = text(key);
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) bad(key, "an unsigned integer");
    errno = 0;
    const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
    if (errno == ERANGE) bad(key, "a 64-bit unsigned integer");
    return v;
  }
  int64_t i64(const std::string& key) const {
    const std::string& s = text(key);
    const size_t digits = !s.empty() && s[0] == '-' ? 1 : 0;
    if (s.size() == digits || s.find_first_not_of("0123456789", digits) != std::string::npos) bad(key, "an integer");
    errno = 0;
    const long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == ERANGE) bad(key, "a 64-bit integer");
    return v;
  }
  double f64(const std::string& key) const {
    const std::string& s = text(key);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0') bad(key, "a number");
    return v;
  }
  bool flag(const std::string& key) const {
    const std::string& s = text(key);
    if (s != "true" && s != "false") bad(key, "true or false");
    return s == "true";
  }
};

// The optimizer's parameters, in momentum-buffer order, by their names in the model.
std::vector<std::string> optimizer_parameter_names(const Module& model, const Sgd& sgd, const char* op,
                                                   const std::string& path) {
  std::unordered_map<const TensorImpl*, std::string> names;
  for (const NamedTensor& p : model.named_parameters()) names.emplace(p.tensor.impl().get(), p.name);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const ParamGroup& g : sgd.groups()) {
    for (const Tensor& p : g.params) {
      auto it = names.find(p.impl().get());
      ATROUS_CHECK(it != names.end(), op, ": ", path, ": optimizer parameter #", out.size(), " (", p.description(),
                   ") is not a parameter of ", model.type_name(),
                   " (was the optimizer built before the model was moved or rebuilt?)");
      ATROUS_CHECK(seen.insert(it->second).second, op, ": ", path, ": parameter '", it->second,
                   "' appears twice in the optimizer");
      out.push_back(it->second);
    }
  }
  return out;
}

}  // namespace

// ---- weights ----

void save_module(const std::string& path, const Module& module, const std::map<std::string, std::string>& metadata,
                 const SafetensorsSaveOptions& options) {
  // Mark the layout so that load_weights_any never has to guess it from the shapes.
  std::map<std::string, std::string> marked = metadata;
  marked.emplace(kLayoutKey, kAtrousLayout);
  marked.merge(model_metadata_of(module));  // what the caller gave wins
  save_safetensors(path, module.state_dict(), marked, options);
}

std::vector<std::string> load_module(const SafetensorsFile& file, Module& module, bool strict,
                                     const std::string& prefix) {
  LoadPlan plan = plan_module_load(file, module, strict, prefix, "load_module");
  apply(file, plan);
  return plan.skipped;
}

std::vector<std::string> load_module(const std::string& path, Module& module, bool strict, const std::string& prefix) {
  return load_module(SafetensorsFile(path), module, strict, prefix);
}

// ---- checkpoints ----

void save_checkpoint(const std::string& path, const Module& model, const Sgd& sgd, const TrainingState& state,
                     const std::map<std::string, std::string>& metadata) {
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : model.state_dict()) tensors.emplace(kModelPrefix + name, t);
  const std::vector<std::string> names = optimizer_parameter_names(model, sgd, "save_checkpoint", path);
  const std::vector<Tensor>& buffers = sgd.momentum_buffers();
  ATROUS_CHECK(buffers.size() == names.size(), "save_checkpoint: ", path, ": the optimizer has ", buffers.size(),
               " momentum buffers for ", names.size(), " parameters");
  for (size_t i = 0; i < names.size(); ++i) {
    if (buffers[i].defined()) tensors.emplace(kMomentumPrefix + names[i], buffers[i].detach());
  }

  const SgdOptions& o = sgd.options();
  std::map<std::string, std::string> meta = {
      {kFormatKey, kFormatValue},
      {kVersionKey, kVersion},
      {"model.type", model.type_name()},
      {"iteration", std::to_string(state.iteration)},
      {"epoch", std::to_string(state.epoch)},
      {"optimizer.type", "sgd"},
      {"optimizer.lr", double_text(o.lr)},
      {"optimizer.momentum", double_text(o.momentum)},
      {"optimizer.weight_decay", double_text(o.weight_decay)},
      {"optimizer.nesterov", o.nesterov ? "true" : "false"},
      {"optimizer.momentum_style", momentum_styles().name_of(o.momentum_style)},
      {"rng.data.seed", std::to_string(state.data_rng.seed)},
      {"rng.data.offset", std::to_string(state.data_rng.offset)},
      {"rng.dropout.seed", std::to_string(state.dropout_rng.seed)},
      {"rng.dropout.offset", std::to_string(state.dropout_rng.offset)},
  };
  for (const auto& [key, value] : state.extra) meta[kExtraPrefix + key] = value;
  meta.merge(model_metadata_of(model));  // so that evaluate/segment can build the model from a checkpoint too
  std::map<std::string, std::string> extra = metadata;
  meta.merge(extra);
  save_safetensors(path, tensors, meta);
}

TrainingState load_checkpoint(const std::string& path, Module& model, Sgd& sgd) {
  const SafetensorsFile file(path);
  const MetadataReader meta{file};
  auto format = file.metadata().find(kFormatKey);
  ATROUS_CHECK(format != file.metadata().end() && format->second == kFormatValue, "load_checkpoint: ", path,
               ": not an atrous checkpoint (metadata '", kFormatKey, "' is not '", kFormatValue,
               "'); use load_module for weights");
  ATROUS_CHECK(meta.text(kVersionKey) == kVersion, "load_checkpoint: ", path, ": checkpoint format version ",
               meta.text(kVersionKey), " is not supported (this build reads version ", kVersion, ")");

  // Everything is read and checked before the model or the optimizer changes.
  TrainingState state;
  state.iteration = meta.i64("iteration");
  state.epoch = meta.i64("epoch");
  state.data_rng = {meta.u64("rng.data.seed"), meta.u64("rng.data.offset")};
  state.dropout_rng = {meta.u64("rng.dropout.seed"), meta.u64("rng.dropout.offset")};
  for (const auto& [key, value] : file.metadata())
    if (starts_with(key, kExtraPrefix)) state.extra[key.substr(kExtraPrefix.size())] = value;

  ATROUS_CHECK(meta.text("optimizer.type") == "sgd", "load_checkpoint: ", path, ": optimizer '",
               meta.text("optimizer.type"), "' cannot be restored into Sgd");
  const double lr = meta.f64("optimizer.lr");
  const SgdOptions& o = sgd.options();
  auto same = [&](const char* key, double saved, double current) {
    ATROUS_CHECK(saved == current, "load_checkpoint: ", path, ": the checkpoint was written with ", key, " ",
                 double_text(saved), ", the optimizer has ", double_text(current),
                 " (resuming needs the same settings; load_checkpoint_model loads only the weights)");
  };
  same("momentum", meta.f64("optimizer.momentum"), o.momentum);
  same("weight_decay", meta.f64("optimizer.weight_decay"), o.weight_decay);
  const bool nesterov = meta.flag("optimizer.nesterov");
  ATROUS_CHECK(nesterov == o.nesterov, "load_checkpoint: ", path, ": the checkpoint was written ",
               nesterov ? "with" : "without", " Nesterov momentum, the optimizer is ", o.nesterov ? "" : "not ",
               "Nesterov (resuming needs the same settings; load_checkpoint_model loads only the weights)");

  // The velocity of Caffe-style momentum holds lr * gradients, PyTorch's the gradients: a buffer of one style is
  // wrong by a factor of the lr in the other. Checkpoints from before the option existed were all PyTorch-style.
  auto style = file.metadata().find("optimizer.momentum_style");
  const std::string saved_style = style == file.metadata().end() ? "pytorch" : style->second;
  ATROUS_CHECK(saved_style == momentum_styles().name_of(o.momentum_style), "load_checkpoint: ", path,
               ": the checkpoint was written with momentum style '", saved_style, "', the optimizer uses '",
               momentum_styles().name_of(o.momentum_style),
               "'; their momentum buffers mean different things (Caffe's include the learning rate), so training "
               "cannot resume across styles (load_checkpoint_model loads only the weights)");

  const LoadPlan model_plan = plan_module_load(file, model, true, kModelPrefix, "load_checkpoint");

  const std::vector<std::string> names = optimizer_parameter_names(model, sgd, "load_checkpoint", path);
  std::vector<Tensor>& buffers = sgd.momentum_buffers();
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < names.size(); ++i) index_of[names[i]] = i;
  std::vector<std::pair<size_t, std::string>> momentum;  // (buffer index, entry)
  for (const std::string& entry : file.names()) {
    if (!starts_with(entry, kMomentumPrefix)) {
      ATROUS_CHECK(starts_with(entry, kModelPrefix), "load_checkpoint: ", path, ": unexpected tensor '", entry, "'");
      continue;
    }
    const std::string name = entry.substr(kMomentumPrefix.size());
    auto it = index_of.find(name);
    ATROUS_CHECK(it != index_of.end(), "load_checkpoint: ", path, ": momentum buffer '", entry,
                 "' belongs to no parameter of the optimizer");
    momentum.emplace_back(it->second, entry);
  }
  // Shapes of the momentum buffers against their parameters.
  std::vector<const Tensor*> params;
  for (const ParamGroup& g : sgd.groups())
    for (const Tensor& t : g.params) params.push_back(&t);
  for (const auto& [index, entry] : momentum) {
    const Shape& shape = file.info(entry).shape;
    ATROUS_CHECK(shape == params[index]->shape(), "load_checkpoint: ", path, ": momentum buffer '", entry,
                 "' has shape ", shape_str(shape), ", the parameter has ", shape_str(params[index]->shape()));
  }

  apply(file, model_plan);
  for (Tensor& b : buffers) b = Tensor();  // parameters without a saved buffer start afresh, as they did then
  for (const auto& [index, entry] : momentum) {
    const Tensor& p = *params[index];
    buffers[index] = file.load(entry).to(p.dtype()).to(p.device());
  }
  sgd.set_lr(lr);
  return state;
}

std::vector<std::string> load_checkpoint_model(const std::string& path, Module& model, bool strict) {
  return load_module(SafetensorsFile(path), model, strict, kModelPrefix);
}

}  // namespace atrous
