// Stochastic gradient descent with momentum, weight decay and optional Nesterov momentum, by default in PyTorch's
// form:
//   v <- momentum * v + (g + decay * w);  w <- w - lr * v   (Nesterov: w <- w - lr * (g + decay * w + momentum * v)).
// or in Caffe's (SGDSolver::ComputeUpdateValue), with the learning rate inside the velocity:
//   v <- momentum * v + lr * (g + decay * w);  w <- w - v.
// Parameter groups carry lr and decay multipliers (the papers train the classifier at 10x the base lr).
#pragma once
#include <string>
#include <vector>

#include "core/named_registry.h"
#include "core/tensor.h"
#include "layers/param_group.h"

namespace atrous {

// Where the learning rate enters the momentum. With a constant lr both give the same updates (Caffe's velocity is
// lr times PyTorch's; equal up to rounding). When the lr changes (poly, step), Caffe's velocity keeps each past
// gradient at the lr it was taken with, while PyTorch's applies the current lr to all of them. DeepLab v1/v2 were
// trained in Caffe. A momentum buffer of one style means something else in the other, so checkpoints record it.
enum class MomentumStyle { pytorch, caffe };
const NamedValues<MomentumStyle>& momentum_styles();  // "pytorch", "caffe"

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool nesterov = false;  // PyTorch's Nesterov form; not with MomentumStyle::caffe
  MomentumStyle momentum_style = MomentumStyle::pytorch;
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
  // Momentum buffers, in the order of the groups' parameters (undefined until a parameter's first update); in
  // options().momentum_style's units (Caffe's include the learning rate).
  std::vector<Tensor>& momentum_buffers() { return velocity_; }
  const std::vector<Tensor>& momentum_buffers() const { return velocity_; }

 private:
  std::vector<ParamGroup> groups_;
  SgdOptions options_;
  std::vector<Tensor> velocity_;
};

}  // namespace atrous
