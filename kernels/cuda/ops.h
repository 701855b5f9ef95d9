// Raw-pointer CUDA launchers for every op of core/ops, the device twins of the *_cpu kernels declared in
// kernels/<op>.h (same shape structs, same semantics; the CPU kernel is the oracle in tests/test_cuda_ops.cpp).
// Pointers are device pointers on `device`; each launcher queues its kernels on that device's stream
// (core/cuda/cuda_context.h) and checks every launch. T is float or double. Plain C++: core includes it.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "kernels/activation.h"
#include "kernels/batch_norm.h"
#include "kernels/conv2d.h"
#include "kernels/cross_entropy.h"
#include "kernels/pooling.h"
#include "kernels/resize.h"

namespace atrous::kernels::cuda {

// ---- elementwise (n elements, contiguous) ----
template <typename T> void add(int device, const T* a, const T* b, T* out, int64_t n);
template <typename T> void sub(int device, const T* a, const T* b, T* out, int64_t n);
template <typename T> void mul(int device, const T* a, const T* b, T* out, int64_t n);
// out = alpha * a + beta * b (b may be null when beta is 0).
template <typename T> void axpby(int device, T alpha, const T* a, T beta, const T* b, T* out, int64_t n);
// *out = sum of a, accumulated in double in a fixed order (deterministic); out is a device scalar.
template <typename T> void sum(int device, const T* a, T* out, int64_t n);
template <typename T> void relu_forward(int device, const T* x, T* y, int64_t n);
template <typename T> void relu_backward(int device, const T* y, const T* dy, T* dx, int64_t n);
template <typename T> void maximum_forward(int device, const T* a, const T* b, T* out, int64_t n);
template <typename T>
void maximum_backward(int device, const T* a, const T* b, const T* dy, T* da, T* db, int64_t n);
// Same Philox stream and float comparison as dropout_cpu: identical masks on both devices.
template <typename T>
void dropout(int device, const T* x, int64_t n, float threshold, T scale, uint64_t seed, uint64_t offset, T* y);

// ---- MobileNet activations (n elements, contiguous; backward reads the input x) and the SE channel rescale ----
template <typename T>
void hard_activation_forward(int device, HardActivation kind, const T* x, T* y, int64_t n);
template <typename T>
void hard_activation_backward(int device, HardActivation kind, const T* x, const T* dy, T* dx, int64_t n);
template <typename T> void sigmoid_forward(int device, const T* x, T* y, int64_t n);
template <typename T> void sigmoid_backward(int device, const T* y, const T* dy, T* dx, int64_t n);
template <typename T>
void scale_channels_forward(int device, const T* x, const T* s, ScaleChannelsShape shape, T* y);
// dx and ds may each be null; ds is a gather over the pixels (deterministic, no atomics).
template <typename T>
void scale_channels_backward(int device, const T* x, const T* s, const T* dy, ScaleChannelsShape shape, T* dx, T* ds);

// ---- concat / split along the last axis: one 2-D copy per piece ----
template <typename T>
void copy_columns(int device, const T* src, int64_t src_cols, int64_t src_offset, T* dst, int64_t dst_cols,
                  int64_t dst_offset, int64_t rows, int64_t width);

// ---- argmax, softmax, cross-entropy over the last axis of [rows, cols] ----
template <typename T> void argmax_last_axis(int device, const T* x, int32_t* out, int64_t rows, int64_t cols);
template <typename T> void softmax_forward(int device, const T* x, T* y, int64_t rows, int64_t cols);
template <typename T> void log_softmax_forward(int device, const T* x, T* y, int64_t rows, int64_t cols);
template <typename T> void softmax_backward(int device, const T* y, const T* dy, T* dx, int64_t rows, int64_t cols);
template <typename T>
void log_softmax_backward(int device, const T* y, const T* dy, T* dx, int64_t rows, int64_t cols);
// Queues the loss without waiting for the device: loss[0] = (sum over valid pixels of w[y] * -log softmax(x)[y]) /
// (sum of w[y]), 0 when no pixel counts; sums[0..2] (device memory) = {that sum, the weight sum, the first pixel
// whose label is invalid, or s.pixels when none}, for the backward and for the caller's deferred label check.
// L is int32_t or uint8_t.
template <typename T, typename L>
void softmax_cross_entropy_forward(int device, const T* logits, const L* labels, const T* class_weights, T* row_stats,
                                   const CrossEntropyShape& s, T* loss, double* sums);
// dlogits for an upstream gradient grad_loss[0] (device memory), scaled by 1 / sums[1] on the device.
template <typename T, typename L>
void softmax_cross_entropy_backward(int device, const T* logits, const L* labels, const T* class_weights,
                                    const T* row_stats, const T* grad_loss, const double* sums, T* dlogits,
                                    const CrossEntropyShape& s);

// ---- bilinear resize (backward is a gather: deterministic, no atomics) ----
template <typename T> void resize_bilinear_forward(int device, const T* x, T* y, const ResizeShape& s);
template <typename T> void resize_bilinear_backward(int device, const T* dy, T* dx, const ResizeShape& s);

// ---- pooling (backward passes are gathers) ----
template <typename T> void max_pool2d_forward(int device, const T* x, Pool2dShape s, T* y, int32_t* argmax);
template <typename T> void max_pool2d_backward(int device, const T* dy, const int32_t* argmax, Pool2dShape s, T* dx);
template <typename T> void avg_pool2d_forward(int device, const T* x, Pool2dShape s, bool count_include_pad, T* y);
template <typename T>
void avg_pool2d_backward(int device, const T* dy, Pool2dShape s, bool count_include_pad, T* dx);
template <typename T>
void global_avg_pool_forward(int device, const T* x, int64_t batch, int64_t pixels, int64_t channels, T* y);
template <typename T>
void global_avg_pool_backward(int device, const T* dy, int64_t batch, int64_t pixels, int64_t channels, T* dx);

// ---- batch norm (statistics: per-block partial sums in double, reduced in a fixed order) ----
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

// ---- conv2d: implicit GEMM in NHWC, fp32/fp64 FMA, tiled in shared memory; cuBLAS for pointwise convs ----
template <typename T>
void conv2d_forward(int device, const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <typename T> void conv2d_backward_data(int device, const Conv2dShape& s, const T* dy, const T* w, T* dx);
// Split over pixels into partial sums reduced in a fixed order: deterministic.
template <typename T> void conv2d_backward_weight(int device, const Conv2dShape& s, const T* dy, const T* x, T* dw);
template <typename T> void conv2d_backward_bias(int device, const Conv2dShape& s, const T* dy, T* db);

}  // namespace atrous::kernels::cuda
