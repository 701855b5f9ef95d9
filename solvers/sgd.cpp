#include "solvers/sgd.h"

#include "core/autograd.h"
#include "core/ops/elementwise.h"

namespace atrous {

const NamedValues<MomentumStyle>& momentum_styles() {
  static const NamedValues<MomentumStyle> names("momentum style",
                                                {{"pytorch", MomentumStyle::pytorch}, {"caffe", MomentumStyle::caffe}});
  return names;
}

Sgd::Sgd(std::vector<ParamGroup> groups, SgdOptions options) : groups_(std::move(groups)), options_(options) {
  ATROUS_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0, "Sgd: lr (", options.lr,
               "), momentum (", options.momentum, ") and weight_decay (", options.weight_decay,
               ") must be non-negative");
  ATROUS_CHECK(!options.nesterov || options.momentum > 0, "Sgd: Nesterov momentum needs momentum > 0");
  ATROUS_CHECK(!options.nesterov || options.momentum_style == MomentumStyle::pytorch,
               "Sgd: Nesterov momentum is implemented in PyTorch's form only, not with momentum style caffe");
  size_t count = 0;
  for (const ParamGroup& g : groups_) {
    for (const Tensor& p : g.params) {
      ATROUS_CHECK(p.defined() && p.is_leaf() && p.requires_grad(),
                   "Sgd: every parameter must be a leaf tensor that requires grad, got ", p.description());
      ATROUS_CHECK(p.is_contiguous(), "Sgd: parameter ", p.description(), " must be contiguous");
    }
    count += g.params.size();
  }
  velocity_.resize(count);
}

void Sgd::step() {
  NoGradGuard no_grad;
  size_t index = 0;
  for (ParamGroup& group : groups_) {
    const double lr = options_.lr * group.lr_mult;
    const double decay = options_.weight_decay * group.decay_mult;
    for (Tensor& p : group.params) {
      Tensor& v = velocity_[index++];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      Tensor d = g;
      if (decay != 0.0) {
        d = g.clone();
        axpy_(d, decay, p);
      }
      if (options_.momentum != 0.0 && options_.momentum_style == MomentumStyle::caffe) {
        // Caffe's history starts at zero, so the first velocity is lr * d.
        if (!v.defined()) {
          v = scale(d, lr);
        } else {
          Tensor scaled = scale(v, options_.momentum);
          axpy_(scaled, lr, d);
          v = scaled;
        }
        axpy_(p, -1.0, v);
      } else if (options_.momentum != 0.0) {
        if (!v.defined()) {
          v = d.clone();  // PyTorch starts the buffer at the first gradient
        } else {
          Tensor scaled = scale(v, options_.momentum);
          add_(scaled, d);
          v = scaled;
        }
        if (options_.nesterov) {
          Tensor step = d.clone();
          axpy_(step, options_.momentum, v);
          axpy_(p, -lr, step);
        } else {
          axpy_(p, -lr, v);
        }
      } else {
        axpy_(p, -lr, d);
      }
    }
  }
}

void Sgd::zero_grad() {
  for (ParamGroup& group : groups_)
    for (Tensor& p : group.params) p.zero_grad();
}

}  // namespace atrous
