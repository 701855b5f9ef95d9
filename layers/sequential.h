// Sequential: children applied in order. Children are named "0", "1", ... unless given names, as in PyTorch.
#pragma once
#include <memory>
#include <string>

#include "layers/module.h"

namespace atrous {

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}

  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> module) {
    return add(std::to_string(children().size()), std::move(module));
  }
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) {
    register_module(name, module);
    return module;
  }

  // In inference a run of children Conv2d [BatchNorm2d] [ReLU] goes as one fused op (layers/conv_bn_relu.h).
  Tensor forward(const Tensor& x) override;
  size_t size() const { return children().size(); }
};

}  // namespace atrous
