// relu(bn(conv(x)) [+ shortcut]) for the layers that hold those steps: one fused pass where the batch norm is fixed
// (inference, frozen) or absent, the modules in turn where it learns. Blocks call it where they would chain the three
// forwards; Sequential finds the same pattern among its children (layers/sequential.h).
#pragma once
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace atrous {

// bn may be null (no batch norm); relu: whether a ReLU follows; residual, if defined, is added before it (a residual
// block's end: relu(bn(conv(x)) + shortcut)). The fused op (core/ops/conv2d_bn_relu.h) runs when there is no bn, or
// it normalises with its running statistics (eval mode or frozen) and its affine needs no gradient (frozen, or grad
// mode off): in inference and in frozen-BN training. Otherwise conv.forward, bn->forward, then relu or add_relu, in
// turn.
Tensor conv_bn_relu(Conv2d& conv, BatchNorm2d* bn, const Tensor& x, bool relu, const Tensor& residual = Tensor());

// Whether conv_bn_relu takes the fused op with this bn (null: none).
bool conv_bn_relu_fuses(const BatchNorm2d* bn);

// For modules that run their children in order (Sequential, VGG's features): runs children[i] on x, or the whole
// run Conv2d [BatchNorm2d] [ReLU] that starts there through conv_bn_relu, and moves i past what it ran.
Tensor forward_children_from(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children, size_t& i,
                             const Tensor& x);

}  // namespace atrous
