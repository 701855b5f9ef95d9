// MobileNet activation ops: argument checks, device dispatch (CPU kernels / CUDA launchers), backward closures.
#include "core/ops/activation.h"

#include "core/autograd.h"
#include "core/checks.h"
#include "kernels/activation.h"

namespace atrous {
namespace {

using kernels::HardActivation;

Tensor hard_activation(const char* op, HardActivation kind, const Tensor& x_in) {
  checks::floating(op, "x", x_in);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(
          kernels::cuda::hard_activation_forward<T>(x.device().index, kind, x.data<T>(), y.data<T>(), x.numel()));
    } else {
      kernels::hard_activation_forward_cpu<T>(kind, x.data<T>(), y.data<T>(), x.numel());
    }
  });
  // The backward reads the input, as PyTorch's does (hardswish's gradient is not a function of its output).
  const bool track = any_requires_grad({x_in});
  return record_op(
      op, y, {x_in}, [op, kind, x = track ? x.detach() : Tensor()](const Tensor& g_in, const std::vector<bool>&) {
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::empty(g.shape(), g.dtype(), g.device());
        dispatch_floating(g.dtype(), op, [&](auto tag) {
          using T = decltype(tag);
          if (g.device().is_cuda()) {
            ATROUS_CUDA_ONLY(kernels::cuda::hard_activation_backward<T>(g.device().index, kind, x.data<T>(),
                                                                        g.data<T>(), dx.data<T>(), g.numel()));
          } else {
            kernels::hard_activation_backward_cpu<T>(kind, x.data<T>(), g.data<T>(), dx.data<T>(), g.numel());
          }
        });
        return std::vector<Tensor>{dx};
      });
}

}  // namespace

Tensor relu6(const Tensor& x) { return hard_activation("relu6", HardActivation::relu6, x); }
Tensor hardsigmoid(const Tensor& x) { return hard_activation("hardsigmoid", HardActivation::hardsigmoid, x); }
Tensor hardswish(const Tensor& x) { return hard_activation("hardswish", HardActivation::hardswish, x); }

Tensor sigmoid(const Tensor& x_in) {
  const char* op = "sigmoid";
  checks::floating(op, "x", x_in);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(kernels::cuda::sigmoid_forward<T>(x.device().index, x.data<T>(), y.data<T>(), x.numel()));
    } else {
      kernels::sigmoid_forward_cpu<T>(x.data<T>(), y.data<T>(), x.numel());
    }
  });
  const bool track = any_requires_grad({x_in});
  return record_op(op, y, {x_in}, [op, y = track ? y.detach() : Tensor()](const Tensor& g_in, const std::vector<bool>&) {
    Tensor g = g_in.contiguous();
    Tensor dx = Tensor::empty(g.shape(), g.dtype(), g.device());
    dispatch_floating(g.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      if (g.device().is_cuda()) {
        ATROUS_CUDA_ONLY(
            kernels::cuda::sigmoid_backward<T>(g.device().index, y.data<T>(), g.data<T>(), dx.data<T>(), g.numel()));
      } else {
        kernels::sigmoid_backward_cpu<T>(y.data<T>(), g.data<T>(), dx.data<T>(), g.numel());
      }
    });
    return std::vector<Tensor>{dx};
  });
}

Tensor scale_channels(const Tensor& x_in, const Tensor& s_in) {
  const char* op = "scale_channels";
  checks::nhwc(op, "x", x_in);
  checks::floating(op, "s", s_in);
  const int64_t N = x_in.size(0), H = x_in.size(1), W = x_in.size(2), C = x_in.size(3);
  ATROUS_CHECK(s_in.shape() == Shape({N, 1, 1, C}), op, ": 's' ", s_in.description(),
               " must be [N,1,1,C] = ", shape_str({N, 1, 1, C}), " for 'x' ", x_in.description());
  checks::same_dtype(op, "x", x_in, "s", s_in);
  checks::same_device(op, "x", x_in, "s", s_in);
  Tensor x = x_in.contiguous(), s = s_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const kernels::ScaleChannelsShape shape{N, H * W, C};
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(
          kernels::cuda::scale_channels_forward<T>(x.device().index, x.data<T>(), s.data<T>(), shape, y.data<T>()));
    } else {
      kernels::scale_channels_forward_cpu<T>(x.data<T>(), s.data<T>(), shape, y.data<T>());
    }
  });
  // dx needs s and ds needs x: keep each only when the other input's gradient is wanted.
  const bool track = any_requires_grad({x_in, s_in});
  return record_op(op, y, {x_in, s_in},
                   [shape, x = track && s_in.requires_grad() ? x.detach() : Tensor(),
                    s = track && x_in.requires_grad() ? s.detach() : Tensor(), x_shape = x.shape(),
                    s_shape = s.shape()](const Tensor& g_in, const std::vector<bool>& needs) {
                     Tensor g = g_in.contiguous();
                     Tensor dx = needs[0] ? Tensor::empty(x_shape, g.dtype(), g.device()) : Tensor();
                     Tensor ds = needs[1] ? Tensor::empty(s_shape, g.dtype(), g.device()) : Tensor();
                     dispatch_floating(g.dtype(), "scale_channels backward", [&](auto tag) {
                       using T = decltype(tag);
                       const T* x_ptr = x.defined() ? x.data<T>() : nullptr;
                       const T* s_ptr = s.defined() ? s.data<T>() : nullptr;
                       T* dx_ptr = dx.defined() ? dx.data<T>() : nullptr;
                       T* ds_ptr = ds.defined() ? ds.data<T>() : nullptr;
                       if (g.device().is_cuda()) {
                         ATROUS_CUDA_ONLY(kernels::cuda::scale_channels_backward<T>(
                             g.device().index, x_ptr, s_ptr, g.data<T>(), shape, dx_ptr, ds_ptr));
                       } else {
                         kernels::scale_channels_backward_cpu<T>(x_ptr, s_ptr, g.data<T>(), shape, dx_ptr, ds_ptr);
                       }
                     });
                     return std::vector<Tensor>{dx, ds};
                   });
}

}  // namespace atrous
