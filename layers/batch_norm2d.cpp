#include "layers/batch_norm2d.h"

#include "dist/sync_batch_norm.h"

namespace atrous {

BatchNorm2d::BatchNorm2d(const BatchNorm2dOptions& options)
    : Module("BatchNorm2d"),
      options_(options),
      running_mean_(register_buffer("running_mean", Tensor::zeros({std::max(options.channels, 0)}))),
      running_var_(register_buffer("running_var", Tensor::ones({std::max(options.channels, 0)}))) {
  ATROUS_CHECK(options.channels >= 1 && options.eps > 0 && options.momentum >= 0 && options.momentum <= 1,
               "BatchNorm2d: need channels >= 1, eps > 0 and momentum in [0, 1], got ", options.channels, ", ",
               options.eps, ", ", options.momentum);
  if (options.affine) {
    weight_ = &register_parameter("weight", Tensor::ones({options.channels}), ParamOptions{1.0, 0.0});
    bias_ = &register_parameter("bias", Tensor::zeros({options.channels}), ParamOptions{1.0, 0.0});
  }
  set_frozen(options.frozen);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  BatchNormParams params;
  params.momentum = options_.momentum;
  params.eps = options_.eps;
  params.mode = options_.frozen ? BatchNormMode::Frozen : is_training() ? BatchNormMode::Train : BatchNormMode::Eval;
  const Tensor weight = weight_ ? *weight_ : Tensor(), bias = bias_ ? *bias_ : Tensor();
  if (sync_ && sync_->size() > 1)
    return dist::sync_batch_norm(x, weight, bias, running_mean_, running_var_, params, *sync_);
  return batch_norm(x, weight, bias, running_mean_, running_var_, params);
}

RunningBatchNorm BatchNorm2d::running() const {
  return RunningBatchNorm{weight_ ? *weight_ : Tensor(), bias_ ? *bias_ : Tensor(), running_mean_, running_var_,
                          options_.eps};
}

void BatchNorm2d::set_sync(std::shared_ptr<dist::Communicator> ranks) { sync_ = std::move(ranks); }

void BatchNorm2d::set_frozen(bool frozen) {
  options_.frozen = frozen;
  if (weight_) weight_->set_requires_grad(!frozen);
  if (bias_) bias_->set_requires_grad(!frozen);
}

void BatchNorm2d::set_momentum(double momentum) {
  ATROUS_CHECK(momentum >= 0 && momentum <= 1, "BatchNorm2d: momentum must be in [0, 1], got ", momentum);
  options_.momentum = momentum;
}

std::string BatchNorm2d::describe() const {
  return "BatchNorm2d(" + std::to_string(options_.channels) + (options_.frozen ? ", frozen" : "") +
         (options_.affine ? "" : ", no affine") + ")";
}

}  // namespace atrous
