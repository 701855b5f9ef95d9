// conv2d: argument checks, device dispatch (CPU: im2col + GEMM kernels; CUDA: implicit GEMM) and the backward
// closure. Grouped and depthwise convolutions go to grouped_conv2d.cpp.
#include "core/ops/conv2d.h"

#include "core/autograd.h"
#include "core/checks.h"
#include "core/ops/grouped_conv2d.h"
#include "kernels/conv2d.h"

namespace atrous {
namespace {

constexpr const char* kOp = "conv2d";

std::string params_str(const Conv2dParams& p) {
  return detail::concat("stride ", p.stride, ", padding ", p.padding, ", dilation ", p.dilation,
                        p.groups != 1 ? detail::concat(", groups ", p.groups) : std::string());
}

template <typename T>
Tensor workspace(int64_t elems) {
  return Tensor::empty({std::max<int64_t>(elems, 1)}, dtype_of<T>);  // the caching allocator makes reuse cheap
}

}  // namespace

detail::Conv2dSaved detail::conv2d_saved(const Tensor& x_in, const Tensor& w_in, const Tensor& x, const Tensor& w,
                                         bool has_bias, const Conv2dParams& params) {
  Conv2dSaved saved{x.shape(), w.shape(), Tensor(), Tensor(), has_bias, params};
  if (w_in.requires_grad()) saved.x = x.detach();  // backward-weight reads x
  if (x_in.requires_grad()) saved.w = w.detach();  // backward-data reads w
  return saved;
}

std::vector<Tensor> detail::conv2d_backward(const Tensor& g_in, const Conv2dSaved& saved,
                                            const std::vector<bool>& needs) {
  Tensor g = g_in.contiguous();
  const kernels::Conv2dShape s = detail::conv2d_kernel_shape(saved.x_shape, saved.w_shape, saved.params);
  const Tensor& x = saved.x;
  const Tensor& w = saved.w;
  Tensor dx = needs[0] ? Tensor::empty(saved.x_shape, g.dtype(), g.device()) : Tensor();
  Tensor dw = needs[1] ? Tensor::empty(saved.w_shape, g.dtype(), g.device()) : Tensor();
  Tensor db = saved.has_bias && needs[2] ? Tensor::empty({s.cout}, g.dtype(), g.device()) : Tensor();
  dispatch_floating(g.dtype(), "conv2d backward", [&](auto tag) {
    using T = decltype(tag);
    if (g.device().is_cuda()) {
      [[maybe_unused]] const int d = g.device().index;
      if (dx.defined()) {
        ATROUS_CUDA_ONLY(kernels::cuda::conv2d_backward_data<T>(d, s, g.data<T>(), w.data<T>(), dx.data<T>()));
      }
      if (dw.defined()) {
        ATROUS_CUDA_ONLY(kernels::cuda::conv2d_backward_weight<T>(d, s, g.data<T>(), x.data<T>(), dw.data<T>()));
      }
      if (db.defined()) ATROUS_CUDA_ONLY(kernels::cuda::conv2d_backward_bias<T>(d, s, g.data<T>(), db.data<T>()));
      return;
    }
    if (dx.defined()) {
      Tensor ws = workspace<T>(kernels::conv2d_backward_data_workspace_cpu<T>(s));
      kernels::conv2d_backward_data_cpu<T>(s, g.data<T>(), w.data<T>(), dx.data<T>(), ws.data<T>(), ws.numel());
    }
    if (dw.defined()) {
      Tensor ws = workspace<T>(kernels::conv2d_backward_weight_workspace_cpu<T>(s));
      kernels::conv2d_backward_weight_cpu<T>(s, g.data<T>(), x.data<T>(), dw.data<T>(), ws.data<T>(), ws.numel());
    }
    if (db.defined()) kernels::conv2d_backward_bias_cpu<T>(s, g.data<T>(), db.data<T>());
  });
  return {dx, dw, db};
}

void detail::check_conv2d_arguments(const char* op, const Tensor& x, const Tensor& w, const Tensor& b,
                                    const Conv2dParams& p) {
  checks::nhwc(op, "x", x);
  checks::floating(op, "weight", w);
  checks::rank(op, "weight", w, 4, "[Cout,KH,KW,Cin/groups]");
  checks::same_dtype(op, "x", x, "weight", w);
  checks::same_device(op, "x", x, "weight", w);
  ATROUS_CHECK(w.size(0) > 0 && w.size(1) > 0 && w.size(2) > 0 && w.size(3) > 0, op,
               ": weight must have positive sizes, got ", w.description());
  ATROUS_CHECK(p.groups >= 1 && x.size(3) % p.groups == 0 && w.size(0) % p.groups == 0, op, ": groups ", p.groups,
               " must divide both the ", x.size(3), " input channels of x ", x.description(), " and the ", w.size(0),
               " output channels of weight ", w.description());
  ATROUS_CHECK(w.size(3) * p.groups == x.size(3), op, ": weight ", w.description(), " expects Cin = ",
               w.size(3) * p.groups, " input channels",
               p.groups > 1 ? detail::concat(" (", w.size(3), " per group, ", p.groups, " groups)") : std::string(),
               " but x ", x.description(), " (NHWC) has ", x.size(3));
  if (b.defined()) {
    checks::floating(op, "bias", b);
    checks::rank(op, "bias", b, 1, "[Cout]");
    checks::same_dtype(op, "x", x, "bias", b);
    checks::same_device(op, "x", x, "bias", b);
    ATROUS_CHECK(b.size(0) == w.size(0), op, ": bias ", b.description(), " must have Cout = ", w.size(0),
                 " elements to match weight ", w.description());
  }
  ATROUS_CHECK(p.stride >= 1 && p.dilation >= 1 && p.padding >= 0, op,
               ": stride and dilation must be >= 1 and padding >= 0, got ", params_str(p));
  const int64_t oh = conv2d_output_size(x.size(1), w.size(1), p), ow = conv2d_output_size(x.size(2), w.size(2), p);
  ATROUS_CHECK(oh > 0 && ow > 0, op, ": output would be empty (", oh, "x", ow, "): the ", w.size(1), "x", w.size(2),
               " kernel with ", params_str(p), " does not fit x ", x.description());
}

kernels::Conv2dShape detail::conv2d_kernel_shape(const Shape& x, const Shape& w, const Conv2dParams& p) {
  kernels::Conv2dShape s;
  s.n = x[0];
  s.h = x[1];
  s.w = x[2];
  s.cin = x[3];
  s.cout = w[0];
  s.kh = w[1];
  s.kw = w[2];
  s.oh = conv2d_output_size(s.h, s.kh, p);
  s.ow = conv2d_output_size(s.w, s.kw, p);
  s.stride = p.stride;
  s.pad_h = s.pad_w = p.padding;
  s.dilation = p.dilation;
  return s;
}

int64_t conv2d_output_size(int64_t in, int64_t kernel, const Conv2dParams& p) {
  const int64_t span = int64_t(p.dilation) * (kernel - 1) + 1;
  const int64_t room = in + 2 * int64_t(p.padding) - span;
  if (room < 0 || p.stride < 1) return 0;  // floor division of a negative would round toward zero
  return room / p.stride + 1;
}

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dParams& params) {
  detail::check_conv2d_arguments(kOp, x_in, w_in, b_in, params);
  if (params.groups > 1) return detail::grouped_conv2d(x_in, w_in, b_in, params);
  Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  const kernels::Conv2dShape s = detail::conv2d_kernel_shape(x.shape(), w.shape(), params);
  Tensor y = Tensor::empty({s.n, s.oh, s.ow, s.cout}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(kernels::cuda::conv2d_forward<T>(x.device().index, s, x.data<T>(), w.data<T>(),
                                                        b.defined() ? b.data<T>() : nullptr, y.data<T>()));
      return;
    }
    Tensor ws = workspace<T>(kernels::conv2d_forward_workspace_cpu<T>(s));
    kernels::conv2d_forward_cpu<T>(s, x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr, y.data<T>(),
                                   ws.data<T>(), ws.numel());
  });
  if (!any_requires_grad({x_in, w_in, b_in})) return y;
  return record_op(kOp, y, {x_in, w_in, b_in},
                   [saved = detail::conv2d_saved(x_in, w_in, x, w, b.defined(), params)](
                       const Tensor& g, const std::vector<bool>& needs) {
                     return detail::conv2d_backward(g, saved, needs);
                   });
}

}  // namespace atrous
