// Elementwise CPU kernels: OpenMP over elements, simple loops the compiler vectorises.
#include "kernels/elementwise.h"

#include <algorithm>

namespace atrous::kernels {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 15;

template <typename T>
void add_cpu(const T* a, const T* b, T* out, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template <typename T>
void sub_cpu(const T* a, const T* b, T* out, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
}

template <typename T>
void mul_cpu(const T* a, const T* b, T* out, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

template <typename T>
void axpby_cpu(T alpha, const T* a, T beta, const T* b, T* out, int64_t n) {
  if (beta == T(0) || b == nullptr) {
#pragma omp parallel for simd if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) out[i] = alpha * a[i];
    return;
  }
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = alpha * a[i] + beta * b[i];
}

template <typename T>
T sum_cpu(const T* a, int64_t n) {
  double total = 0.0;
#pragma omp parallel for simd reduction(+ : total) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(a[i]);
  return static_cast<T>(total);
}

template <typename T>
void relu_forward_cpu(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <typename T>
void add_relu_cpu(const T* a, const T* b, T* out, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const T v = a[i] + b[i];
    out[i] = v > T(0) ? v : T(0);
  }
}

template <typename T>
void relu_backward_cpu(const T* y, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <typename T>
void relu_scale_backward_cpu(const T* y, const T* dy, const T* scale, int64_t rows, int64_t channels, T* dx) {
#pragma omp parallel for if (rows * channels > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ out = y ? y + r * channels : nullptr;
    const T* __restrict__ g = dy + r * channels;
    T* __restrict__ d = dx + r * channels;
    if (out && scale) {
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) d[c] = out[c] > T(0) ? g[c] * scale[c] : T(0);
    } else if (out) {
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) d[c] = out[c] > T(0) ? g[c] : T(0);
    } else if (scale) {
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) d[c] = g[c] * scale[c];
    } else {
      std::copy(g, g + channels, d);
    }
  }
}

template <typename T>
void maximum_forward_cpu(const T* a, const T* b, T* out, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] >= b[i] ? a[i] : b[i];
}

template <typename T>
void maximum_backward_cpu(const T* a, const T* b, const T* dy, T* da, T* db, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const bool first = a[i] >= b[i];
    if (da) da[i] = first ? dy[i] : T(0);
    if (db) db[i] = first ? T(0) : dy[i];
  }
}

#define ATROUS_INSTANTIATE(T)                                                                   \
  template void add_cpu<T>(const T*, const T*, T*, int64_t);                                    \
  template void sub_cpu<T>(const T*, const T*, T*, int64_t);                                    \
  template void mul_cpu<T>(const T*, const T*, T*, int64_t);                                    \
  template void axpby_cpu<T>(T, const T*, T, const T*, T*, int64_t);                            \
  template T sum_cpu<T>(const T*, int64_t);                                                     \
  template void relu_forward_cpu<T>(const T*, T*, int64_t);                                     \
  template void add_relu_cpu<T>(const T*, const T*, T*, int64_t);                               \
  template void relu_backward_cpu<T>(const T*, const T*, T*, int64_t);                          \
  template void relu_scale_backward_cpu<T>(const T*, const T*, const T*, int64_t, int64_t, T*); \
  template void maximum_forward_cpu<T>(const T*, const T*, T*, int64_t);                        \
  template void maximum_backward_cpu<T>(const T*, const T*, const T*, T*, T*, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
