#include "layers/conv_bn_relu.h"

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "layers/simple_layers.h"

namespace atrous {

bool conv_bn_relu_fuses(const BatchNorm2d* bn) {
  if (!bn) return true;
  if (!bn->uses_running_statistics()) return false;
  const RunningBatchNorm r = bn->running();
  return !any_requires_grad({r.weight, r.bias});
}

Tensor conv_bn_relu(Conv2d& conv, BatchNorm2d* bn, const Tensor& x, bool relu, const Tensor& residual) {
  if (conv_bn_relu_fuses(bn)) {
    const RunningBatchNorm running = bn ? bn->running() : RunningBatchNorm{};
    return conv2d_bn_relu(x, conv.weight(), conv.has_bias() ? conv.bias() : Tensor(), conv.params(),
                          bn ? &running : nullptr, relu, residual);
  }
  Tensor h = conv.forward(x);
  if (bn) h = bn->forward(h);
  if (residual.defined()) return relu ? add_relu(h, residual) : add(h, residual);
  return relu ? atrous::relu(h) : h;
}

Tensor forward_children_from(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children, size_t& i,
                             const Tensor& x) {
  auto* conv = dynamic_cast<Conv2d*>(children[i].second.get());
  if (conv) {
    size_t next = i + 1;
    auto* bn = next < children.size() ? dynamic_cast<BatchNorm2d*>(children[next].second.get()) : nullptr;
    if (bn) ++next;
    const bool relu = next < children.size() && dynamic_cast<ReLU*>(children[next].second.get()) != nullptr;
    if (relu) ++next;
    if (conv_bn_relu_fuses(bn)) {
      i = next;
      return conv_bn_relu(*conv, bn, x, relu);
    }
  }
  return children[i++].second->forward(x);
}

}  // namespace atrous
