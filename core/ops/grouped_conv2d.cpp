// Grouped and depthwise convolution (see grouped_conv2d.h).
#include "core/ops/grouped_conv2d.h"

#include "core/autograd.h"
#include "core/checks.h"
#include "core/ops/concat.h"
#include "kernels/conv2d.h"
#include "kernels/depthwise_conv2d.h"

namespace atrous::detail {
namespace {

// What the depthwise backward keeps: x only if the weight needs a gradient, w only if x does.
struct DepthwiseSaved {
  kernels::Conv2dShape shape;
  Shape x_shape;
  Tensor x, w;
  bool has_bias = false;
};

std::vector<Tensor> depthwise_backward(const Tensor& g_in, const DepthwiseSaved& saved,
                                       const std::vector<bool>& needs) {
  const Tensor g = g_in.contiguous();
  const kernels::Conv2dShape& s = saved.shape;
  Tensor dx = needs[0] ? Tensor::empty(saved.x_shape, g.dtype(), g.device()) : Tensor();
  Tensor dw = needs[1] ? Tensor::empty({s.cout, s.kh, s.kw, 1}, g.dtype(), g.device()) : Tensor();
  Tensor db = saved.has_bias && needs[2] ? Tensor::empty({s.cout}, g.dtype(), g.device()) : Tensor();
  dispatch_floating(g.dtype(), "depthwise conv2d backward", [&](auto tag) {
    using T = decltype(tag);
    if (g.device().is_cuda()) {
      [[maybe_unused]] const int d = g.device().index;
      if (dx.defined()) {
        ATROUS_CUDA_ONLY(
            kernels::cuda::depthwise_conv2d_backward_data<T>(d, s, g.data<T>(), saved.w.data<T>(), dx.data<T>()));
      }
      if (dw.defined()) {
        ATROUS_CUDA_ONLY(
            kernels::cuda::depthwise_conv2d_backward_weight<T>(d, s, g.data<T>(), saved.x.data<T>(), dw.data<T>()));
      }
      if (db.defined()) ATROUS_CUDA_ONLY(kernels::cuda::conv2d_backward_bias<T>(d, s, g.data<T>(), db.data<T>()));
      return;
    }
    if (dx.defined()) kernels::depthwise_conv2d_backward_data_cpu<T>(s, g.data<T>(), saved.w.data<T>(), dx.data<T>());
    if (dw.defined()) kernels::depthwise_conv2d_backward_weight_cpu<T>(s, g.data<T>(), saved.x.data<T>(), dw.data<T>());
    if (db.defined()) kernels::conv2d_backward_bias_cpu<T>(s, g.data<T>(), db.data<T>());
  });
  return {dx, dw, db};
}

Tensor depthwise_conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dParams& params) {
  Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  const kernels::Conv2dShape s = conv2d_kernel_shape(x.shape(), w.shape(), params);
  Tensor y = Tensor::empty({s.n, s.oh, s.ow, s.cout}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "depthwise conv2d", [&](auto tag) {
    using T = decltype(tag);
    const T* bias = b.defined() ? b.data<T>() : nullptr;
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(kernels::cuda::depthwise_conv2d_forward<T>(x.device().index, s, x.data<T>(), w.data<T>(), bias,
                                                                  y.data<T>()));
      return;
    }
    kernels::depthwise_conv2d_forward_cpu<T>(s, x.data<T>(), w.data<T>(), bias, y.data<T>());
  });
  if (!any_requires_grad({x_in, w_in, b_in})) return y;
  DepthwiseSaved saved{s, x.shape(), Tensor(), Tensor(), b.defined()};
  if (w_in.requires_grad()) saved.x = x.detach();  // backward-weight reads x
  if (x_in.requires_grad()) saved.w = w.detach();  // backward-data reads w
  return record_op("conv2d (depthwise)", y, {x_in, w_in, b_in},
                   [saved = std::move(saved)](const Tensor& g, const std::vector<bool>& needs) {
                     return depthwise_backward(g, saved, needs);
                   });
}

}  // namespace

Tensor grouped_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& params) {
  const int64_t groups = params.groups;
  if (groups == x.size(3)) return depthwise_conv2d(x, w, b, params);
  const int64_t cin = x.size(3) / groups, cout = w.size(0) / groups;
  const Conv2dParams one_group = Conv2dParams(params).with_groups(1);
  std::vector<Tensor> outputs;
  outputs.reserve(size_t(groups));
  for (int64_t i = 0; i < groups; ++i) {
    const Tensor bias = b.defined() ? b.slice(0, i * cout, (i + 1) * cout) : Tensor();
    outputs.push_back(conv2d(x.slice(3, i * cin, (i + 1) * cin), w.slice(0, i * cout, (i + 1) * cout), bias, one_group));
  }
  return concat_channels(outputs);
}

}  // namespace atrous::detail
