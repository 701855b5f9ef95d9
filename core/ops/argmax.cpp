// Argmax over the last (channel) axis: argument checks and device dispatch. Not differentiable: the i32 result never
// requires grad.
#include "core/ops/argmax.h"

#include <limits>

#include "core/checks.h"
#include "kernels/argmax.h"

namespace atrous {

Tensor argmax_channels(const Tensor& x_in) {
  constexpr const char* kOp = "argmax_channels";
  checks::floating(kOp, "x", x_in);
  ATROUS_CHECK(x_in.dim() >= 1, kOp, ": 'x' needs at least one axis (the channels), got ", x_in.description());
  const int64_t cols = x_in.size(-1);
  ATROUS_CHECK(cols >= 1, kOp, ": 'x' ", x_in.description(), " has no channels to choose from");
  ATROUS_CHECK(cols <= std::numeric_limits<int32_t>::max(), kOp, ": 'x' ", x_in.description(),
               " has more channels than an i32 label can index");
  Tensor x = x_in.contiguous();
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  Tensor out = Tensor::empty(out_shape, DType::i32, x.device());
  dispatch_floating(x.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(kernels::cuda::argmax_last_axis<T>(x.device().index, x.data<T>(), out.data<int32_t>(),
                                                           x.numel() / cols, cols));
    } else {
      kernels::argmax_last_axis_cpu(x.data<T>(), out.data<int32_t>(), x.numel() / cols, cols);
    }
  });
  return out;
}

}  // namespace atrous
