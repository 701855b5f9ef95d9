// Stochastic gradient descent with momentum, weight decay and optional Nesterov momentum, in PyTorch's form:
//   v <- momentum * v + (g + decay * w);  w <- w - lr * v   (Nesterov: w <- w - lr * (g + decay * w + momentum * v)).
// Parameter groups carry lr and decay multipliers (the papers train the classifier at 10x the base lr).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace atrous {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool nesterov = false;
};

struct ParamGroup {
  std::vector<Tensor> params;
  double lr_mult = 1.0;
  double decay_mult = 1.0;
};

class Sgd {
 public:
  Sgd(std::vector<ParamGroup> groups, SgdOptions options);
  Sgd(std::vector<Tensor> params, SgdOptions options) : Sgd({ParamGroup{std::move(params)}}, options) {}

  // Applies one update from the accumulated gradients; parameters without a gradient are left as they are.
  void step();
  void zero_grad();

  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  const SgdOptions& options() const { return options_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Momentum buffers, in the order of the groups' parameters (undefined until a parameter's first update).
  std::vector<Tensor>& momentum_buffers() { return velocity_; }
  const std::vector<Tensor>& momentum_buffers() const { return velocity_; }

 private:
  std::vector<ParamGroup> groups_;
  SgdOptions options_;
  std::vector<Tensor> velocity_;
};

}  // namespace atrous
