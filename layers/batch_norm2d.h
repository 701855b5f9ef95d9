// BatchNorm2d layer: weight/bias [C] (PyTorch "weight", "bias"), buffers running_mean/running_var [C].
// Trainable (batch statistics in train mode), or frozen (running statistics and fixed affine always, as DeepLab
// fine-tunes ResNet with small batches).
#pragma once
#include <memory>

#include "core/ops/batch_norm.h"
#include "core/ops/conv2d_bn_relu.h"
#include "layers/module.h"

namespace atrous::dist {
class Communicator;  // dist/communicator.h
}  // namespace atrous::dist

namespace atrous {

struct BatchNorm2dOptions {
  int channels = 0;
  double momentum = 0.1;  // PyTorch convention; TF's decay 0.9997 is momentum 0.0003
  double eps = 1e-5;
  bool affine = true;
  bool frozen = false;

  explicit BatchNorm2dOptions(int c) : channels(c) {}
  BatchNorm2dOptions& with_momentum(double m) { momentum = m; return *this; }
  BatchNorm2dOptions& with_eps(double e) { eps = e; return *this; }
  BatchNorm2dOptions& with_affine(bool a) { affine = a; return *this; }
  BatchNorm2dOptions& with_frozen(bool f) { frozen = f; return *this; }
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(const BatchNorm2dOptions& options);

  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  // Frozen: running statistics in every mode and weight/bias excluded from training (requires_grad false).
  void set_frozen(bool frozen);
  bool frozen() const { return options_.frozen; }
  // Whether forward normalises with the running statistics (frozen, or in eval mode) rather than the batch's.
  bool uses_running_statistics() const { return options_.frozen || !is_training(); }
  // This layer as conv2d_bn_relu takes it (core/ops/conv2d_bn_relu.h); only meaningful when it uses running statistics.
  RunningBatchNorm running() const;
  void set_momentum(double momentum);
  // Synchronized BN: batch statistics over every rank of `ranks` (dist/sync_batch_norm.h); null: this process's.
  void set_sync(std::shared_ptr<dist::Communicator> ranks);
  bool synchronized() const { return sync_ != nullptr; }
  const BatchNorm2dOptions& options() const { return options_; }

 private:
  BatchNorm2dOptions options_;
  Tensor* weight_ = nullptr;
  Tensor* bias_ = nullptr;
  Tensor& running_mean_;
  Tensor& running_var_;
  std::shared_ptr<dist::Communicator> sync_;
};

}  // namespace atrous
