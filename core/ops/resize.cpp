// Bilinear resize (NHWC): argument checks, output size rule, device dispatch and the backward closure.
// Scale mode: out = floor(in * scale) per axis, and the sampling ratio is then computed from the sizes (in/out or
// (in-1)/(out-1)), exactly as an explicit size would; this matches PyTorch with recompute_scale_factor=True.
#include "core/ops/resize.h"

#include <cmath>

#include "core/autograd.h"
#include "core/checks.h"
#include "kernels/resize.h"

namespace atrous {
namespace {

constexpr const char* kOp = "resize_bilinear";
// Far beyond any image, small enough that out_h * out_w * C cannot overflow int64.
constexpr double kMaxOutputSide = 1 << 30;

int64_t scaled_size(int64_t in, double scale, const char* axis) {
  const double out = std::floor(static_cast<double>(in) * scale);
  ATROUS_CHECK(out >= 1.0, kOp, ": scale ", scale, " maps input ", axis, " ", in, " to ", out,
               " pixels; the output needs at least 1");
  ATROUS_CHECK(out <= kMaxOutputSide, kOp, ": scale ", scale, " maps input ", axis, " ", in, " to ", out,
               " pixels, more than supported (", kMaxOutputSide, ")");
  return static_cast<int64_t>(out);
}

kernels::ResizeShape kernel_shape(const Shape& in, int64_t out_h, int64_t out_w, bool align_corners) {
  return {in[0], in[1], in[2], out_h, out_w, in[3], align_corners};
}

}  // namespace

std::pair<int64_t, int64_t> resize_output_size(int64_t in_h, int64_t in_w, const ResizeParams& p) {
  const bool has_size = p.out_h != 0 || p.out_w != 0;
  const bool has_scale = p.scale != 0.0;
  ATROUS_CHECK(!(has_size && has_scale), kOp, ": give either an output size or a scale, not both (size ", p.out_h,
               "x", p.out_w, ", scale ", p.scale, ")");
  ATROUS_CHECK(has_size || has_scale, kOp, ": give an output size (ResizeParams::to_size) or a scale "
               "(ResizeParams::by_scale); both are unset");
  ATROUS_CHECK(in_h >= 1 && in_w >= 1, kOp, ": input spatial size ", in_h, "x", in_w, " must be at least 1x1");
  if (has_size) {
    ATROUS_CHECK(p.out_h >= 1 && p.out_w >= 1, kOp, ": output size ", p.out_h, "x", p.out_w,
                 " must be at least 1x1");
    ATROUS_CHECK(p.out_h <= kMaxOutputSide && p.out_w <= kMaxOutputSide, kOp, ": output size ", p.out_h, "x",
                 p.out_w, " is larger than supported (", kMaxOutputSide, " per side)");
    return {p.out_h, p.out_w};
  }
  ATROUS_CHECK(p.scale > 0.0 && std::isfinite(p.scale), kOp, ": scale must be a finite number > 0, got ", p.scale);
  return {scaled_size(in_h, p.scale, "height"), scaled_size(in_w, p.scale, "width")};
}

Tensor resize_bilinear(const Tensor& x_in, const ResizeParams& params) {
  checks::nhwc(kOp, "x", x_in);
  const Shape& in = x_in.shape();
  const auto [out_h, out_w] = resize_output_size(in[1], in[2], params);
  const kernels::ResizeShape shape = kernel_shape(in, out_h, out_w, params.align_corners);

  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({in[0], out_h, out_w, in[3]}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(kernels::cuda::resize_bilinear_forward<T>(x.device().index, x.data<T>(), y.data<T>(), shape));
      return;
    }
    Tensor workspace = Tensor::empty({kernels::resize_bilinear_forward_workspace_size(shape)}, x.dtype());
    kernels::resize_bilinear_forward_cpu(x.data<T>(), y.data<T>(), workspace.data<T>(), shape);
  });
  // The backward needs only the sizes: resize is linear in x.
  return record_op(kOp, y, {x_in}, [shape, in](const Tensor& g_in, const std::vector<bool>&) {
    Tensor g = g_in.contiguous();
    Tensor dx = Tensor::empty(in, g.dtype(), g.device());
    dispatch_floating(g.dtype(), "resize_bilinear backward", [&](auto tag) {
      using T = decltype(tag);
      if (g.device().is_cuda()) {
        ATROUS_CUDA_ONLY(
            kernels::cuda::resize_bilinear_backward<T>(g.device().index, g.data<T>(), dx.data<T>(), shape));
        return;
      }
      Tensor workspace = Tensor::empty({kernels::resize_bilinear_backward_workspace_size(shape)}, g.dtype());
      kernels::resize_bilinear_backward_cpu(g.data<T>(), dx.data<T>(), workspace.data<T>(), shape);
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace atrous
