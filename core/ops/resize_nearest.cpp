// Nearest-neighbour resize: argument checks and device dispatch by element size (the kernels copy bits).
#include "core/ops/resize_nearest.h"

#include "core/autograd.h"
#include "core/checks.h"
#include "kernels/resize_nearest.h"

namespace atrous {
namespace {

template <typename Word> void run(const Tensor& x, Tensor& y, const kernels::NearestShape& shape) {
  const Word* in = static_cast<const Word*>(x.raw_data());
  Word* out = static_cast<Word*>(y.raw_data());
  if (x.device().is_cuda()) {
    ATROUS_CUDA_ONLY(kernels::cuda::resize_nearest<Word>(x.device().index, in, out, shape));
  } else {
    kernels::resize_nearest_cpu<Word>(in, out, shape);
  }
}

}  // namespace

Tensor resize_nearest(const Tensor& x_in, int64_t out_h, int64_t out_w, bool align_corners) {
  constexpr const char* kOp = "resize_nearest";
  ATROUS_CHECK(x_in.defined(), kOp, ": 'x' is undefined");
  ATROUS_CHECK(x_in.dim() == 3 || x_in.dim() == 4, kOp, ": 'x' must be [N,H,W] or [N,H,W,C], got ",
               x_in.description());
  ATROUS_CHECK(x_in.size(1) >= 1 && x_in.size(2) >= 1, kOp, ": 'x' ", x_in.description(), " has no pixels to copy");
  ATROUS_CHECK(out_h >= 1 && out_w >= 1, kOp, ": output size must be at least 1x1, got ", out_h, "x", out_w);
  ATROUS_CHECK(!(x_in.requires_grad() && grad_mode_enabled()), kOp, ": 'x' ", x_in.description(),
               " requires grad, but nearest resize is not differentiable (it is for labels and masks); detach() it "
               "or use resize_bilinear");
  const Tensor x = x_in.contiguous();
  kernels::NearestShape shape;
  shape.batch = x.size(0);
  shape.in_h = x.size(1);
  shape.in_w = x.size(2);
  shape.out_h = out_h;
  shape.out_w = out_w;
  shape.channels = x.dim() == 4 ? x.size(3) : 1;
  shape.align_corners = align_corners;
  Shape out_shape = x.shape();
  out_shape[1] = out_h;
  out_shape[2] = out_w;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  switch (dtype_size(x.dtype())) {
    case 1: run<uint8_t>(x, y, shape); break;
    case 4: run<uint32_t>(x, y, shape); break;
    case 8: run<uint64_t>(x, y, shape); break;
    default: ATROUS_FAIL(kOp, ": dtype ", dtype_name(x.dtype()), " is not supported");
  }
  return y;
}

}  // namespace atrous
