// Softmax and log-softmax over the innermost axis of a [rows, cols] array: forward (max-shifted, so exp never
// overflows) and backward from the saved output.
#pragma once
#include <cstdint>

namespace atrous::kernels {

template <typename T> void softmax_forward_cpu(const T* x, T* y, int64_t rows, int64_t cols);
template <typename T> void log_softmax_forward_cpu(const T* x, T* y, int64_t rows, int64_t cols);
// dx = y * (dy - sum(dy * y)) per row, with y the softmax output.
template <typename T> void softmax_backward_cpu(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols);
// dx = dy - exp(y) * sum(dy) per row, with y the log-softmax output.
template <typename T> void log_softmax_backward_cpu(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols);

namespace cuda {

// The CUDA launchers (kernels/cuda/softmax.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). T is float or double.
template <typename T> void softmax_forward(int device, const T* x, T* y, int64_t rows, int64_t cols);
template <typename T> void log_softmax_forward(int device, const T* x, T* y, int64_t rows, int64_t cols);
template <typename T> void softmax_backward(int device, const T* y, const T* dy, T* dx, int64_t rows, int64_t cols);
template <typename T>
void log_softmax_backward(int device, const T* y, const T* dy, T* dx, int64_t rows, int64_t cols);

}  // namespace cuda

}  // namespace atrous::kernels
