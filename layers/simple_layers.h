// Parameter-free layers: thin Module wrappers over the functional ops, so they can sit in a Sequential.
#pragma once
#include "core/ops/activation.h"
#include "core/ops/dropout.h"
#include "core/ops/elementwise.h"
#include "core/ops/pooling.h"
#include "layers/module.h"

namespace atrous {

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
};

// MobileNet's activations (PyTorch's nn.ReLU6, nn.Hardsigmoid, nn.Hardswish).
class ReLU6 : public Module {
 public:
  ReLU6() : Module("ReLU6") {}
  Tensor forward(const Tensor& x) override { return relu6(x); }
};

class Hardsigmoid : public Module {
 public:
  Hardsigmoid() : Module("Hardsigmoid") {}
  Tensor forward(const Tensor& x) override { return hardsigmoid(x); }
};

class Hardswish : public Module {
 public:
  Hardswish() : Module("Hardswish") {}
  Tensor forward(const Tensor& x) override { return hardswish(x); }
};

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dParams& params) : Module("MaxPool2d"), params_(params) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, params_); }
  std::string describe() const override { return "MaxPool2d(" + pool_description(params_) + ")"; }

  static std::string pool_description(const Pool2dParams& p) {
    return std::to_string(p.kernel) + "x" + std::to_string(p.kernel) + ", stride " + std::to_string(p.stride) +
           ", pad " + std::to_string(p.padding) + (p.ceil_mode ? ", ceil" : "");
  }

 private:
  Pool2dParams params_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dParams& params) : Module("AvgPool2d"), params_(params) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, params_); }
  std::string describe() const override { return "AvgPool2d(" + MaxPool2d::pool_description(params_) + ")"; }

 private:
  Pool2dParams params_;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p, Generator& gen = default_generator()) : Module("Dropout"), p_(p), gen_(gen) {
    ATROUS_CHECK(p >= 0 && p < 1, "Dropout: probability must be in [0, 1), got ", p);
  }
  Tensor forward(const Tensor& x) override { return dropout(x, p_, is_training(), gen_); }
  std::string describe() const override { return "Dropout(" + std::to_string(p_).substr(0, 4) + ")"; }

 private:
  double p_;
  Generator& gen_;
};

}  // namespace atrous
