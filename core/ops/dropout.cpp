// Dropout op: checks p, reserves numel numbers of the generator's Philox stream for the mask, and recomputes the
// same mask from (seed, offset) in backward instead of saving it.
#include "core/ops/dropout.h"

#include "core/autograd.h"
#include "core/checks.h"
#include "kernels/dropout.h"

namespace atrous {

Tensor dropout(const Tensor& x_in, double p, bool training, Generator& gen) {
  checks::floating("dropout", "x", x_in);
  ATROUS_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability p must be in [0, 1], got ", p, " for x ",
               x_in.description());
  if (!training || p == 0.0) return x_in;  // the identity: gradients flow straight through

  Tensor x = x_in.contiguous();
  const int64_t n = x.numel();
  const uint64_t seed = gen.seed(), offset = gen.reserve(static_cast<uint64_t>(n));
  const float threshold = static_cast<float>(p);
  const double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;  // p = 1 drops everything
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(kernels::cuda::dropout<T>(x.device().index, x.data<T>(), n, threshold, static_cast<T>(scale),
                                                 seed, offset, y.data<T>()));
    } else {
      kernels::dropout_cpu<T>(x.data<T>(), n, threshold, static_cast<T>(scale), seed, offset, y.data<T>());
    }
  });
  return record_op(
      "dropout", y, {x_in}, [seed, offset, threshold, scale](const Tensor& g_in, const std::vector<bool>&) {
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::empty(g.shape(), g.dtype(), g.device());
        dispatch_floating(g.dtype(), "dropout backward", [&](auto tag) {
          using T = decltype(tag);
          if (g.device().is_cuda()) {
            ATROUS_CUDA_ONLY(kernels::cuda::dropout<T>(g.device().index, g.data<T>(), g.numel(), threshold,
                                                       static_cast<T>(scale), seed, offset, dx.data<T>()));
          } else {
            kernels::dropout_cpu<T>(g.data<T>(), g.numel(), threshold, static_cast<T>(scale), seed, offset,
                                    dx.data<T>());
          }
        });
        return std::vector<Tensor>{dx};
      });
}

}  // namespace atrous
