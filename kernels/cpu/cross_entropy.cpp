// Fused softmax cross-entropy, CPU: per pixel, loss = log(sum exp(x - m)) + (m - x[y]) with m the row max; the
// gradient is recomputed from the logits and the saved (max, 1/sum). Pixels spread over OpenMP threads; the loss sum accumulates in double.
#include <algorithm>
#include <cmath>

#include "kernels/cross_entropy.h"

namespace atrous::kernels {
namespace {

// Below this many logits a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 14;

template <typename L>
bool valid_label(L label, int64_t classes) {
  const int64_t y = static_cast<int64_t>(label);
  return y >= 0 && y < classes;
}

}  // namespace

template <typename T, typename L>
CrossEntropySums softmax_cross_entropy_forward_cpu(const T* logits, const L* labels, const T* class_weights,
                                                   T* row_stats, const CrossEntropyShape& s) {
  const int64_t C = s.classes;
  double loss = 0.0, weight = 0.0;
  int64_t first_invalid = s.pixels;
#pragma omp parallel for schedule(static) reduction(+ : loss, weight) reduction(min : first_invalid) \
    if (s.pixels * C > kParallelThreshold)
  for (int64_t i = 0; i < s.pixels; ++i) {
    const int64_t y = static_cast<int64_t>(labels[i]);
    if (y == s.ignore_index) continue;
    if (!valid_label(labels[i], C)) {
      first_invalid = std::min(first_invalid, i);
      continue;
    }
    const T* __restrict__ x = logits + i * C;
    T m = x[0];
    for (int64_t k = 1; k < C; ++k) m = x[k] > m ? x[k] : m;
    T total = 0;
    for (int64_t k = 0; k < C; ++k) total += std::exp(x[k] - m);
    if (row_stats) {
      row_stats[2 * i] = m;
      row_stats[2 * i + 1] = T(1) / total;
    }
    const double w = class_weights ? static_cast<double>(class_weights[y]) : 1.0;
    loss += w * (static_cast<double>(std::log(total)) + static_cast<double>(m - x[y]));
    weight += w;
  }
  return {loss, weight, first_invalid == s.pixels ? -1 : first_invalid};
}

template <typename T, typename L>
void softmax_cross_entropy_backward_cpu(const T* logits, const L* labels, const T* class_weights,
                                        const T* row_stats, T scale, T* dlogits, const CrossEntropyShape& s) {
  const int64_t C = s.classes;
#pragma omp parallel for schedule(static) if (s.pixels * C > kParallelThreshold)
  for (int64_t i = 0; i < s.pixels; ++i) {
    T* __restrict__ out = dlogits + i * C;
    const int64_t y = static_cast<int64_t>(labels[i]);
    if (y == s.ignore_index || !valid_label(labels[i], C)) {
      std::fill(out, out + C, T(0));
      continue;
    }
    const T* __restrict__ x = logits + i * C;
    const T coef = class_weights ? scale * class_weights[y] : scale;
    const T m = row_stats[2 * i], factor = coef * row_stats[2 * i + 1];
    for (int64_t k = 0; k < C; ++k) out[k] = factor * std::exp(x[k] - m);
    out[y] -= coef;
  }
}

#define ATROUS_INSTANTIATE(T, L)                                                                                 \
  template CrossEntropySums softmax_cross_entropy_forward_cpu<T, L>(const T*, const L*, const T*, T*,           \
                                                                    const CrossEntropyShape&);                  \
  template void softmax_cross_entropy_backward_cpu<T, L>(const T*, const L*, const T*, const T*, T, T*,         \
                                                         const CrossEntropyShape&);
ATROUS_INSTANTIATE(float, int32_t)
ATROUS_INSTANTIATE(float, uint8_t)
ATROUS_INSTANTIATE(double, int32_t)
ATROUS_INSTANTIATE(double, uint8_t)

}  // namespace atrous::kernels
