// Batch normalisation op: argument checks, the running-statistics update (buffers, outside autograd), device dispatch
// and the backward closure. Backward saves x (only where it reads it), the batch (or running) mean and invstd, never
// xhat.
#include "core/ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/autograd.h"
#include "core/checks.h"
#include "kernels/batch_norm.h"

namespace atrous {
namespace {

constexpr const char* kOp = "batch_norm";

const char* mode_name(BatchNormMode mode) {
  switch (mode) {
    case BatchNormMode::Train:
      return "Train";
    case BatchNormMode::Eval:
      return "Eval";
    case BatchNormMode::Frozen:
      return "Frozen";
  }
  return "?";
}

// weight, bias, running_mean, running_var: [C], the dtype and device of x.
void check_channel_vector(const char* arg, const Tensor& t, const Tensor& x) {
  ATROUS_CHECK(t.dim() == 1 && t.size(0) == x.size(3), kOp, ": '", arg, "' must be [C] = [", x.size(3), "] for x ",
               x.description(), ", got ", t.description());
  checks::same_dtype(kOp, arg, t, "x", x);
  checks::same_device(kOp, arg, t, "x", x);
}

template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, Tensor running_mean,
                  Tensor running_var, const BatchNormParams& params) {
  checks::nhwc(kOp, "x", x_in);
  const bool train = params.mode == BatchNormMode::Train;
  if (weight_in.defined()) check_channel_vector("weight", weight_in, x_in);
  if (bias_in.defined()) check_channel_vector("bias", bias_in, x_in);
  ATROUS_CHECK(running_mean.defined() == running_var.defined(), kOp,
               ": give both running_mean and running_var or neither (got running_mean ",
               running_mean.defined() ? running_mean.description() : "undefined", ", running_var ",
               running_var.defined() ? running_var.description() : "undefined", ")");
  ATROUS_CHECK(train || running_mean.defined(), kOp, ": ", mode_name(params.mode),
               " mode normalises with running_mean and running_var, which are undefined");
  if (running_mean.defined()) {
    check_channel_vector("running_mean", running_mean, x_in);
    check_channel_vector("running_var", running_var, x_in);
    // Updated in place through a raw pointer: a strided view would be written in the wrong places.
    ATROUS_CHECK(running_mean.is_contiguous() && running_var.is_contiguous(), kOp,
                 ": running_mean and running_var must be contiguous, got ", running_mean.description(), " and ",
                 running_var.description());
  }
  ATROUS_CHECK(std::isfinite(params.eps) && params.eps >= 0.0, kOp, ": eps must be finite and >= 0, got ", params.eps);
  ATROUS_CHECK(params.momentum >= 0.0 && params.momentum <= 1.0, kOp, ": momentum must be in [0, 1], got ",
               params.momentum);
  const int64_t C = x_in.size(3);
  const kernels::BatchNormShape shape{x_in.numel() / (C > 0 ? C : 1), C};
  ATROUS_CHECK(!train || shape.rows > 1, kOp,
               ": Train mode needs more than one value per channel (N*H*W = ", shape.rows, ") for x ",
               x_in.description());

  Tensor x = x_in.contiguous();
  Tensor weight = weight_in.defined() ? weight_in.contiguous() : Tensor();
  Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  // The statistics this call normalised with: batch statistics in Train mode, a snapshot of the running ones
  // otherwise (a later Train call may update the buffers before this backward runs).
  Tensor mean = Tensor::empty({C}, x.dtype(), x.device());
  Tensor invstd = Tensor::empty({C}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      [[maybe_unused]] const int d = x.device().index;
      if (train) {
        [[maybe_unused]] const bool update = running_mean.defined();
        ATROUS_CUDA_ONLY(kernels::cuda::batch_norm_train_forward<T>(
            d, x.data<T>(), data_or_null<T>(weight), data_or_null<T>(bias), shape, params.eps, params.momentum,
            y.data<T>(), mean.data<T>(), invstd.data<T>(), update ? running_mean.data<T>() : nullptr,
            update ? running_var.data<T>() : nullptr));
      } else {
        mean.copy_(running_mean);
        ATROUS_CUDA_ONLY(
            kernels::cuda::batch_norm_invstd<T>(d, running_var.data<T>(), C, params.eps, invstd.data<T>()));
        ATROUS_CUDA_ONLY(kernels::cuda::batch_norm_apply<T>(d, x.data<T>(), mean.data<T>(), invstd.data<T>(),
                                                            data_or_null<T>(weight), data_or_null<T>(bias), shape,
                                                            y.data<T>()));
      }
      return;
    }
    if (train) {
      const bool update = running_mean.defined();
      kernels::batch_norm_train_forward_cpu<T>(x.data<T>(), data_or_null<T>(weight), data_or_null<T>(bias), shape,
                                               params.eps, params.momentum, y.data<T>(), mean.data<T>(),
                                               invstd.data<T>(), update ? running_mean.data<T>() : nullptr,
                                               update ? running_var.data<T>() : nullptr);
    } else {
      const T* rm = running_mean.data<T>();
      std::copy(rm, rm + C, mean.data<T>());
      kernels::batch_norm_invstd_cpu<T>(running_var.data<T>(), C, params.eps, invstd.data<T>());
      kernels::batch_norm_apply_cpu<T>(x.data<T>(), mean.data<T>(), invstd.data<T>(), data_or_null<T>(weight),
                                       data_or_null<T>(bias), shape, y.data<T>());
    }
  });

  // Frozen: weight and bias are constants for autograd even when they require grad.
  const bool frozen = params.mode == BatchNormMode::Frozen;
  const std::vector<Tensor> inputs{x_in, frozen ? Tensor() : weight_in, frozen ? Tensor() : bias_in};
  if (!any_requires_grad(inputs)) return y;
  // The backward reads x only for batch statistics or the affine's gradients: a frozen BN, or one whose affine is
  // constant, keeps none of its input (in a frozen-BN ResNet's training, one activation less per convolution).
  const bool keeps_x = train || any_requires_grad({inputs[1], inputs[2]});
  Tensor saved_x = keeps_x ? x.detach() : Tensor();
  return record_op(kOp, y, inputs,
                   [x = std::move(saved_x), weight = weight.defined() ? weight.detach() : Tensor(), mean, invstd, shape,
                    train](const Tensor& g_in, const std::vector<bool>& needs) {
                     Tensor g = g_in.contiguous();
                     const Shape channels{shape.channels};
                     Tensor dx = needs[0] ? Tensor::empty(g.shape(), g.dtype(), g.device()) : Tensor();
                     Tensor dweight = needs[1] ? Tensor::empty(channels, g.dtype(), g.device()) : Tensor();
                     Tensor dbias = needs[2] ? Tensor::empty(channels, g.dtype(), g.device()) : Tensor();
                     dispatch_floating(g.dtype(), "batch_norm backward", [&](auto tag) {
                       using T = decltype(tag);
                       if (g.device().is_cuda()) {
                         ATROUS_CUDA_ONLY(kernels::cuda::batch_norm_backward<T>(
                             g.device().index, g.data<T>(), data_or_null<T>(x), data_or_null<T>(weight), mean.data<T>(),
                             invstd.data<T>(), shape, train, dx.defined() ? dx.data<T>() : nullptr,
                             dweight.defined() ? dweight.data<T>() : nullptr,
                             dbias.defined() ? dbias.data<T>() : nullptr));
                         return;
                       }
                       kernels::batch_norm_backward_cpu<T>(g.data<T>(), data_or_null<T>(x), data_or_null<T>(weight),
                                                           mean.data<T>(), invstd.data<T>(), shape, train,
                                                           dx.defined() ? dx.data<T>() : nullptr,
                                                           dweight.defined() ? dweight.data<T>() : nullptr,
                                                           dbias.defined() ? dbias.data<T>() : nullptr);
                     });
                     return std::vector<Tensor>{dx, dweight, dbias};
                   });
}

}  // namespace atrous
