// Elementwise kernels on contiguous arrays of n elements.
#pragma once
#include <cstdint>

namespace atrous::kernels {

template <typename T> void add_cpu(const T* a, const T* b, T* out, int64_t n);
template <typename T> void sub_cpu(const T* a, const T* b, T* out, int64_t n);
template <typename T> void mul_cpu(const T* a, const T* b, T* out, int64_t n);
// out = alpha * a + beta * b (b may be null when beta is 0).
template <typename T> void axpby_cpu(T alpha, const T* a, T beta, const T* b, T* out, int64_t n);
template <typename T> T sum_cpu(const T* a, int64_t n);  // accumulates in double
template <typename T> void relu_forward_cpu(const T* x, T* y, int64_t n);
// out = relu(a + b) in one pass (a residual block's end).
template <typename T> void add_relu_cpu(const T* a, const T* b, T* out, int64_t n);
// dx = dy where y > 0 (using the output makes in-place ReLU safe).
template <typename T> void relu_backward_cpu(const T* y, const T* dy, T* dx, int64_t n);
// dx[r][c] = (y[r][c] > 0 ? dy[r][c] : 0) * scale[c] for rows x channels, in one pass: the gradient back through a
// ReLU (y its output; null: no ReLU) and a per-channel scale (a batch norm's with fixed statistics and affine; null:
// none).
template <typename T>
void relu_scale_backward_cpu(const T* y, const T* dy, const T* scale, int64_t rows, int64_t channels, T* dx);
template <typename T> void maximum_forward_cpu(const T* a, const T* b, T* out, int64_t n);
// Gradient goes to the larger input; ties go to `a`, as in PyTorch's max with a first-wins rule.
template <typename T> void maximum_backward_cpu(const T* a, const T* b, const T* dy, T* da, T* db, int64_t n);

namespace cuda {

// The CUDA launchers (kernels/cuda/elementwise.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). T is float or double.
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

}  // namespace cuda

}  // namespace atrous::kernels
