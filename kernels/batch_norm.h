// Batch-norm kernels on NHWC data seen as a [rows, channels] matrix (rows = N*H*W), channels contiguous
// (Ioffe & Szegedy 2015, Algorithm 1 and its backward). No autograd here: core/ops/batch_norm.cpp drives them.
#pragma once
#include <cstdint>

namespace atrous::kernels {

struct BatchNormShape {
  int64_t rows = 0;      // N*H*W: the samples each channel's statistics run over
  int64_t channels = 0;  // C, the contiguous inner dimension
};

// Train forward: per-channel batch mean and biased variance (accumulated in double around a per-channel shift, so
// f32 images with a large mean stay accurate), y = (x - mean) * invstd * weight + bias. Writes save_mean and
// save_invstd [C] for backward. When running_mean/running_var are non-null they are updated in place with
// momentum, using the unbiased variance (PyTorch). weight/bias may be null (1 and 0). rows must be >= 2.
template <typename T>
void batch_norm_train_forward_cpu(const T* x, const T* weight, const T* bias, BatchNormShape s, double eps,
                                  double momentum, T* y, T* save_mean, T* save_invstd, T* running_mean, T* running_var);

// invstd[c] = 1 / sqrt(var[c] + eps), for eval mode from the running variance.
template <typename T>
void batch_norm_invstd_cpu(const T* var, int64_t channels, double eps, T* invstd);

// Normalises with given statistics: y = (x - mean) * invstd * weight + bias (eval mode; invstd from running_var).
template <typename T>
void batch_norm_apply_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, BatchNormShape s,
                          T* y);

// Backward given the statistics the forward used. With batch_stats (train mode) dx carries the terms through the
// batch mean and variance: dx = w*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)); otherwise dx = dy*w*invstd.
// dweight = sum(dy*xhat), dbias = sum(dy). Any of dx, dweight, dbias may be null (not needed); x is read only with
// batch_stats, dweight or dbias, and may be null without them.
template <typename T>
void batch_norm_backward_cpu(const T* dy, const T* x, const T* weight, const T* mean, const T* invstd, BatchNormShape s,
                             bool batch_stats, T* dx, T* dweight, T* dbias);

namespace cuda {

// The CUDA launchers (kernels/cuda/batch_norm.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). T is float or double.
// Statistics are per-block partial sums in double, reduced in a fixed order (deterministic).
template <typename T>
void batch_norm_train_forward(int device, const T* x, const T* weight, const T* bias, BatchNormShape s, double eps,
                              double momentum, T* y, T* save_mean, T* save_invstd, T* running_mean, T* running_var);
template <typename T> void batch_norm_invstd(int device, const T* var, int64_t channels, double eps, T* invstd);
template <typename T>
void batch_norm_apply(int device, const T* x, const T* mean, const T* invstd, const T* weight, const T* bias,
                      BatchNormShape s, T* y);
template <typename T>
void batch_norm_backward(int device, const T* dy, const T* x, const T* weight, const T* mean, const T* invstd,
                         BatchNormShape s, bool batch_stats, T* dx, T* dweight, T* dbias);

}  // namespace cuda

}  // namespace atrous::kernels
