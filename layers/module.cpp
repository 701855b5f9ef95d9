#include "layers/module.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "core/autograd.h"

namespace atrous {

void Module::check_new_name(const std::string& name) const {
  ATROUS_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name_, ": invalid member name '", name,
               "' (non-empty, no dots)");
  auto taken = [&](const auto& entries) {
    for (const auto& e : entries)
      if (e.name == name) return true;
    return false;
  };
  bool child = false;
  for (const auto& c : children_) child |= c.first == name;
  ATROUS_CHECK(!taken(params_) && !taken(buffers_) && !child, type_name_, ": member name '", name,
               "' registered twice");
}

Tensor& Module::register_parameter(const std::string& name, Tensor value, ParamOptions options) {
  check_new_name(name);
  ATROUS_CHECK(value.defined() && is_floating(value.dtype()), type_name_, ": parameter '", name,
               "' must be a floating tensor, got ", value.description());
  if (!value.is_leaf()) value = value.detach();
  if (!value.requires_grad()) value.set_requires_grad(true);
  params_.push_back({name, value, options});
  return params_.back().tensor;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name);
  ATROUS_CHECK(value.defined(), type_name_, ": buffer '", name, "' is undefined");
  buffers_.push_back({name, value, {}});
  return buffers_.back().tensor;
}

void Module::collect(const std::string& prefix, bool params, std::vector<NamedTensor>& out) const {
  for (const Entry& e : params ? params_ : buffers_) out.push_back({prefix + e.name, e.tensor});
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", params, out);
}

std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  collect("", true, out);
  return out;
}

std::vector<NamedTensor> Module::named_buffers() const {
  std::vector<NamedTensor> out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (const NamedTensor& p : named_parameters()) out.push_back(p.tensor);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const NamedTensor& p : named_parameters()) n += p.tensor.numel();
  return n;
}

ParamOptions Module::param_options(const std::string& dotted_name) const {
  const size_t dot = dotted_name.find('.');
  if (dot == std::string::npos) {
    for (const Entry& e : params_)
      if (e.name == dotted_name) return e.options;
  } else {
    const std::string head = dotted_name.substr(0, dot);
    for (const auto& [name, child] : children_)
      if (name == head) return child->param_options(dotted_name.substr(dot + 1));
  }
  ATROUS_FAIL(type_name_, ": no parameter named '", dotted_name, "'");
}

std::vector<ParamGroup> Module::param_groups() const {
  std::vector<ParamGroup> groups;
  for (const NamedTensor& p : named_parameters()) {
    if (!p.tensor.requires_grad()) continue;
    const ParamOptions o = param_options(p.name);
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const ParamGroup& g) { return g.lr_mult == o.lr_mult && g.decay_mult == o.decay_mult; });
    if (it == groups.end()) {
      groups.push_back(ParamGroup{{p.tensor}, o.lr_mult, o.decay_mult});
    } else {
      it->params.push_back(p.tensor);
    }
  }
  return groups;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(Device device) {
  for (Entry& e : params_) {
    if (e.tensor.device() == device) continue;
    const bool trainable = e.tensor.requires_grad();
    e.tensor = e.tensor.detach().to(device);
    e.tensor.set_requires_grad(trainable);
  }
  for (Entry& e : buffers_) e.tensor = e.tensor.to(device);
  for (auto& [name, child] : children_) child->to(device);
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (const NamedTensor& p : named_parameters()) out[p.name] = p.tensor.detach();
  for (const NamedTensor& b : named_buffers()) out[b.name] = b.tensor;
  return out;
}

std::vector<std::string> Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  NoGradGuard no_grad;
  std::vector<std::string> skipped;
  std::set<std::string> used;
  std::vector<NamedTensor> targets = named_parameters();
  for (const NamedTensor& b : named_buffers()) targets.push_back(b);
  for (NamedTensor& target : targets) {
    auto it = state.find(target.name);
    if (it == state.end()) {
      ATROUS_CHECK(!strict, "load_state_dict: missing tensor '", target.name, "' (", target.tensor.description(),
                   ") in ", type_name_);
      skipped.push_back("missing: " + target.name);
      continue;
    }
    used.insert(target.name);
    const Tensor& value = it->second;
    if (value.shape() != target.tensor.shape()) {
      ATROUS_CHECK(!strict, "load_state_dict: tensor '", target.name, "' has shape ", shape_str(value.shape()),
                   ", the model expects ", shape_str(target.tensor.shape()));
      skipped.push_back("shape mismatch: " + target.name + " " + shape_str(value.shape()) + " vs " +
                        shape_str(target.tensor.shape()));
      continue;
    }
    Tensor converted = value.to(Device::cpu()).to(target.tensor.dtype()).to(target.tensor.device());
    Tensor destination = target.tensor.detach();  // same storage; copy_ outside autograd
    destination.copy_(converted);
  }
  for (const auto& [name, value] : state) {
    if (used.count(name)) continue;
    ATROUS_CHECK(!strict, "load_state_dict: unexpected tensor '", name, "' ", value.description(), " for ", type_name_);
    skipped.push_back("unexpected: " + name);
  }
  return skipped;
}

void Module::summary_lines(const std::string& name, int depth, std::string& out) const {
  char count[32];
  std::snprintf(count, sizeof(count), "%lld", static_cast<long long>(parameter_count()));
  std::string shapes;
  for (const Entry& e : params_) shapes += " " + e.name + shape_str(e.tensor.shape());
  out += std::string(2 * depth, ' ') + (name.empty() ? "" : name + ": ") + describe() + "  [" + count + " params" +
         (shapes.empty() ? "" : ":" + shapes) + "]\n";
  for (const auto& [child_name, child] : children_) child->summary_lines(child_name, depth + 1, out);
}

std::string Module::summary() const {
  std::string out;
  summary_lines("", 0, out);
  return out;
}

}  // namespace atrous
