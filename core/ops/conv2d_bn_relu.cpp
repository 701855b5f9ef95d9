#include "core/ops/conv2d_bn_relu.h"

#include <cmath>

#include "core/autograd.h"
#include "core/checks.h"
#include "core/ops/batch_norm.h"
#include "core/ops/elementwise.h"
#include "core/ops/grouped_conv2d.h"
#include "kernels/batch_norm.h"
#include "kernels/conv2d.h"
#include "kernels/elementwise.h"

namespace atrous {
namespace {

constexpr const char* kOp = "conv2d_bn_relu";

// A batch-norm vector: [Cout] of the convolution's output, the dtype and device of x.
void check_channel_vector(const char* arg, const Tensor& t, const Tensor& x, const Tensor& w) {
  ATROUS_CHECK(t.dim() == 1 && t.size(0) == w.size(0), kOp, ": batch norm '", arg, "' must be [Cout] = [", w.size(0),
               "] for weight ", w.description(), ", got ", t.description());
  checks::same_dtype(kOp, arg, t, "x", x);
  checks::same_device(kOp, arg, t, "x", x);
}

void check_batch_norm(const RunningBatchNorm& bn, const Tensor& x, const Tensor& w) {
  ATROUS_CHECK(bn.running_mean.defined() && bn.running_var.defined(), kOp,
               ": the batch norm normalises with running_mean and running_var, which must be defined");
  check_channel_vector("running_mean", bn.running_mean, x, w);
  check_channel_vector("running_var", bn.running_var, x, w);
  if (bn.weight.defined()) check_channel_vector("weight", bn.weight, x, w);
  if (bn.bias.defined()) check_channel_vector("bias", bn.bias, x, w);
  ATROUS_CHECK(std::isfinite(bn.eps) && bn.eps >= 0.0, kOp, ": eps must be finite and >= 0, got ", bn.eps);
}

// The ops in turn (nothing requires a gradient here, so none records history).
Tensor ops_in_turn(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& params,
                   const RunningBatchNorm* bn, bool relu, const Tensor& residual) {
  Tensor y = conv2d(x, weight, bias, params);
  if (bn) {
    BatchNormParams p;
    p.mode = BatchNormMode::Eval;
    p.eps = bn->eps;
    y = batch_norm(y, bn->weight, bn->bias, bn->running_mean, bn->running_var, p);
  }
  if (residual.defined()) return relu ? add_relu(y, residual) : add(y, residual);
  return relu ? atrous::relu(y) : y;
}

// The shortcut added before the ReLU: exactly the output's shape, dtype and device.
void check_residual(const Tensor& residual, const Tensor& x, const kernels::Conv2dShape& s) {
  const Shape out{s.n, s.oh, s.ow, s.cout};
  ATROUS_CHECK(residual.shape() == out, kOp, ": residual must have the output's shape ", shape_str(out), ", got ",
               residual.description());
  checks::same_dtype(kOp, "residual", residual, "x", x);
  checks::same_device(kOp, "residual", residual, "x", x);
}

}  // namespace

Tensor conv2d_bn_relu(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dParams& params,
                      const RunningBatchNorm* bn, bool relu, const Tensor& residual_in) {
  detail::check_conv2d_arguments(kOp, x_in, w_in, b_in, params);
  if (bn) check_batch_norm(*bn, x_in, w_in);
  const kernels::Conv2dShape s = detail::conv2d_kernel_shape(x_in.shape(), w_in.shape(), params);
  if (residual_in.defined()) check_residual(residual_in, x_in, s);
  ATROUS_CHECK(!bn || !any_requires_grad({bn->weight, bn->bias, bn->running_mean, bn->running_var}), kOp,
               ": the batch norm's tensors are constants here, but one requires a gradient (freeze the batch norm, "
               "or run conv2d, batch_norm and relu in turn)");
  if (!x_in.device().is_cpu() || params.groups != 1)
    return ops_in_turn(x_in, w_in, b_in, params, bn, relu, residual_in);

  const Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  const Tensor residual = residual_in.defined() ? residual_in.contiguous() : Tensor();
  // The batch norm folded into a per-channel (v - mean) * scale + offset, scale = invstd * weight as batch_norm
  // computes it in Eval mode, in x's dtype.
  Tensor mean, scale, offset;
  if (bn) {
    mean = bn->running_mean.contiguous();
    offset = bn->bias.defined() ? bn->bias.contiguous() : Tensor::zeros({s.cout}, x.dtype());
    scale = Tensor::empty({s.cout}, x.dtype());
  }
  Tensor y = Tensor::empty({s.n, s.oh, s.ow, s.cout}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    kernels::ConvEpilogue<T> epilogue;
    epilogue.bias = b.defined() ? b.data<T>() : nullptr;
    epilogue.relu = relu;
    epilogue.residual = residual.defined() ? residual.data<T>() : nullptr;
    if (bn) {
      kernels::batch_norm_invstd_cpu<T>(bn->running_var.contiguous().data<T>(), s.cout, bn->eps, scale.data<T>());
      if (bn->weight.defined()) {
        const Tensor gamma = bn->weight.contiguous();
        for (int64_t c = 0; c < s.cout; ++c) scale.data<T>()[c] *= gamma.data<T>()[c];
      }
      epilogue.mean = mean.data<T>();
      epilogue.scale = scale.data<T>();
      epilogue.offset = offset.data<T>();
    }
    Tensor ws = Tensor::empty({std::max<int64_t>(kernels::conv2d_forward_workspace_cpu<T>(s), 1)}, x.dtype());
    kernels::conv2d_forward_cpu<T>(s, x.data<T>(), w.data<T>(), epilogue, y.data<T>(), ws.data<T>(), ws.numel());
  });
  if (!any_requires_grad({x_in, w_in, b_in, residual_in})) return y;
  // Back through the ReLU (from y) and the batch norm's scale in one pass, to the residual as it is and to the
  // convolution (with its bias) as conv2d's backward.
  return record_op(kOp, y, {x_in, w_in, b_in, residual_in},
                   [saved = detail::conv2d_saved(x_in, w_in, x, w, b.defined(), params), scale,
                    y = relu ? y.detach() : Tensor()](const Tensor& g_in, const std::vector<bool>& needs) {
                     const Tensor g = g_in.contiguous();
                     const int64_t channels = g.size(3), rows = g.numel() / std::max<int64_t>(channels, 1);
                     const auto through = [&](const Tensor& channel_scale) {
                       if (!y.defined() && !channel_scale.defined()) return g;  // nothing between: g itself
                       Tensor d = Tensor::empty(g.shape(), g.dtype());
                       dispatch_floating(g.dtype(), "conv2d_bn_relu backward", [&](auto tag) {
                         using T = decltype(tag);
                         kernels::relu_scale_backward_cpu<T>(
                             y.defined() ? y.data<T>() : nullptr, g.data<T>(),
                             channel_scale.defined() ? channel_scale.data<T>() : nullptr, rows, channels,
                             d.data<T>());
                       });
                       return d;
                     };
                     std::vector<Tensor> grads{Tensor(), Tensor(), Tensor()};
                     if (needs[0] || needs[1] || needs[2])
                       grads = detail::conv2d_backward(through(scale), saved, {needs[0], needs[1], needs[2]});
                     grads.push_back(needs[3] ? through(Tensor()) : Tensor());
                     return grads;
                   });
}

}  // namespace atrous
