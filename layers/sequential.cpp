#include "layers/sequential.h"

#include "layers/conv_bn_relu.h"

namespace atrous {

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < children().size();) h = forward_children_from(children(), i, h);
  return h;
}

}  // namespace atrous
