// Softmax and log-softmax over the innermost axis, CPU: one row per iteration, rows spread over OpenMP threads.
// Row sums accumulate in T: rows are channel vectors (tens to a few thousand entries).
#include "kernels/softmax.h"

#include <cmath>

namespace atrous::kernels {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 14;

template <typename T>
T row_max(const T* x, int64_t cols) {
  T m = x[0];
  for (int64_t k = 1; k < cols; ++k) m = x[k] > m ? x[k] : m;
  return m;
}

}  // namespace

template <typename T>
void softmax_forward_cpu(const T* x, T* y, int64_t rows, int64_t cols) {
  if (cols == 0) return;
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ in = x + r * cols;
    T* __restrict__ out = y + r * cols;
    const T m = row_max(in, cols);
    T total = 0;
    for (int64_t k = 0; k < cols; ++k) {
      out[k] = std::exp(in[k] - m);
      total += out[k];
    }
    const T inv = T(1) / total;
#pragma omp simd
    for (int64_t k = 0; k < cols; ++k) out[k] *= inv;
  }
}

template <typename T>
void log_softmax_forward_cpu(const T* x, T* y, int64_t rows, int64_t cols) {
  if (cols == 0) return;
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ in = x + r * cols;
    T* __restrict__ out = y + r * cols;
    const T m = row_max(in, cols);
    T total = 0;
    for (int64_t k = 0; k < cols; ++k) total += std::exp(in[k] - m);
    // (x - m) - log(total) rather than x - (m + log(total)): the latter loses the small terms next to a big m.
    const T log_total = std::log(total);
#pragma omp simd
    for (int64_t k = 0; k < cols; ++k) out[k] = (in[k] - m) - log_total;
  }
}

template <typename T>
void softmax_backward_cpu(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ p = y + r * cols;
    const T* __restrict__ g = dy + r * cols;
    T* __restrict__ out = dx + r * cols;
    T dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t k = 0; k < cols; ++k) dot += g[k] * p[k];
#pragma omp simd
    for (int64_t k = 0; k < cols; ++k) out[k] = p[k] * (g[k] - dot);
  }
}

template <typename T>
void log_softmax_backward_cpu(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ lp = y + r * cols;
    const T* __restrict__ g = dy + r * cols;
    T* __restrict__ out = dx + r * cols;
    T total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t k = 0; k < cols; ++k) total += g[k];
    for (int64_t k = 0; k < cols; ++k) out[k] = g[k] - std::exp(lp[k]) * total;
  }
}

#define ATROUS_INSTANTIATE(T)                                                       \
  template void softmax_forward_cpu<T>(const T*, T*, int64_t, int64_t);             \
  template void log_softmax_forward_cpu<T>(const T*, T*, int64_t, int64_t);         \
  template void softmax_backward_cpu<T>(const T*, const T*, T*, int64_t, int64_t);  \
  template void log_softmax_backward_cpu<T>(const T*, const T*, T*, int64_t, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
