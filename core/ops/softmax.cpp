// Softmax and log-softmax over the last axis: argument checks, device dispatch, backward closures from the saved
// output.
#include "core/ops/softmax.h"

#include "core/autograd.h"
#include "core/checks.h"
#include "kernels/softmax.h"

namespace atrous {
namespace {

void check_input(const char* op, const Tensor& x) {
  checks::floating(op, "x", x);
  ATROUS_CHECK(x.dim() >= 1, op, ": 'x' needs at least one axis (the one normalised over), got ", x.description());
}

// Runs `forward` on [rows, cols] views of x and y; the closure gets y (detached) and runs `backward`. Both get the
// device index first (-1 for the CPU).
template <typename Forward, typename Backward>
Tensor softmax_like(const char* op, const char* backward_op, const Tensor& x_in, Forward forward, Backward backward) {
  check_input(op, x_in);
  Tensor x = x_in.contiguous();
  const int64_t cols = x.size(-1);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    forward(x.device().is_cuda() ? x.device().index : -1, x.data<T>(), y.data<T>(), rows, cols);
  });
  const bool track = any_requires_grad({x_in});
  return record_op(op, y, {x_in},
                   [y = track ? y.detach() : Tensor(), rows, cols, backward, backward_op](
                       const Tensor& g_in, const std::vector<bool>&) {
                     Tensor g = g_in.contiguous();
                     Tensor dx = Tensor::empty(g.shape(), g.dtype(), g.device());
                     dispatch_floating(g.dtype(), backward_op, [&](auto tag) {
                       using T = decltype(tag);
                       backward(g.device().is_cuda() ? g.device().index : -1, y.data<T>(), g.data<T>(),
                                dx.data<T>(), rows, cols);
                     });
                     return std::vector<Tensor>{dx};
                   });
}

}  // namespace

Tensor softmax(const Tensor& x) {
  return softmax_like(
      "softmax", "softmax backward", x,
      [](int d, auto* in, auto* out, int64_t r, int64_t c) {
        if (d >= 0) {
          ATROUS_CUDA_ONLY(kernels::cuda::softmax_forward(d, in, out, r, c));
        } else {
          kernels::softmax_forward_cpu(in, out, r, c);
        }
      },
      [](int d, auto* y, auto* dy, auto* dx, int64_t r, int64_t c) {
        if (d >= 0) {
          ATROUS_CUDA_ONLY(kernels::cuda::softmax_backward(d, y, dy, dx, r, c));
        } else {
          kernels::softmax_backward_cpu(y, dy, dx, r, c);
        }
      });
}

Tensor log_softmax(const Tensor& x) {
  return softmax_like(
      "log_softmax", "log_softmax backward", x,
      [](int d, auto* in, auto* out, int64_t r, int64_t c) {
        if (d >= 0) {
          ATROUS_CUDA_ONLY(kernels::cuda::log_softmax_forward(d, in, out, r, c));
        } else {
          kernels::log_softmax_forward_cpu(in, out, r, c);
        }
      },
      [](int d, auto* y, auto* dy, auto* dx, int64_t r, int64_t c) {
        if (d >= 0) {
          ATROUS_CUDA_ONLY(kernels::cuda::log_softmax_backward(d, y, dy, dx, r, c));
        } else {
          kernels::log_softmax_backward_cpu(y, dy, dx, r, c);
        }
      });
}

}  // namespace atrous
