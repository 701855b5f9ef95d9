// Module: the base of every layer and model. It owns named parameters (trainable leaves), buffers (state such as
// BN running statistics) and child modules, so that dotted names ("backbone.layer1.0.conv1.weight") are stable and
// match PyTorch state_dicts where a PyTorch counterpart exists.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "layers/param_group.h"

namespace atrous {

// Per-parameter optimiser multipliers (the papers train classifiers at 10x lr; biases often get 2x lr, no decay).
struct ParamOptions {
  double lr_mult = 1.0;
  double decay_mult = 1.0;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  const std::string& type_name() const { return type_name_; }
  // One line describing the configuration, e.g. "Conv2d(512 -> 1024, 3x3, dilation 12)".
  virtual std::string describe() const { return type_name_; }

  // Every parameter / buffer of this module and its children, depth first in registration order.
  std::vector<NamedTensor> named_parameters() const;
  std::vector<NamedTensor> named_buffers() const;
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  ParamOptions param_options(const std::string& dotted_name) const;

  // Parameters grouped by equal (lr_mult, decay_mult), for Sgd; frozen parameters (requires_grad false) left out.
  std::vector<ParamGroup> param_groups() const;

  // Training mode for this module and its children (BN batch statistics, dropout).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves parameters and buffers (keeping parameters as leaves with requires_grad).
  void to(Device device);

  // Parameters and buffers by dotted name (PyTorch's state_dict).
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in. strict: every tensor present, no unexpected names, shapes equal (errors name the tensor).
  // Not strict: loads what fits and returns a report of what was skipped.
  std::vector<std::string> load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // A readable tree: one line per module with its description and parameter count.
  std::string summary() const;

 protected:
  Tensor& register_parameter(const std::string& name, Tensor value, ParamOptions options = {});
  Tensor& register_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    check_new_name(name);
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, std::vector<NamedTensor>& out) const;
  void summary_lines(const std::string& name, int depth, std::string& out) const;

  std::string type_name_;
  bool training_ = true;
  struct Entry {
    std::string name;
    Tensor tensor;
    ParamOptions options;
  };
  // deques: register_* hand out references that must survive later registrations.
  std::deque<Entry> params_;
  std::deque<Entry> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace atrous
