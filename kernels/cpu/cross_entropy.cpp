// Fused softmax cross-entropy, CPU: per pixel, loss = log(sum exp(x - m)) + (m - x[y]) with m the row max; the
// gradient is recomputed from the logits and the saved (max, 1/sum), one row at a time. The forward takes pixels
// kRowTile at a time so that short rows go through transposed tiles (row_tile.h). Work spreads over OpenMP
// threads; the loss sum accumulates in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/row_tile.h"
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
  const int64_t tiles = (s.pixels + kRowTile - 1) / kRowTile;
  double loss = 0.0, weight = 0.0;
  int64_t first_invalid = s.pixels;
#pragma omp parallel reduction(+ : loss, weight) reduction(min : first_invalid) if (s.pixels * C > kParallelThreshold)
  {
    std::vector<T> scratch(C <= kMaxTileCols ? C * kRowTile : 0);
    T* const tile = scratch.data();
#pragma omp for schedule(static)
    for (int64_t b = 0; b < tiles; ++b) {
      const int64_t p0 = b * kRowTile, n = std::min(kRowTile, s.pixels - p0);
      bool any_counted = false;
      for (int64_t r = 0; r < n; ++r) any_counted |= static_cast<int64_t>(labels[p0 + r]) != s.ignore_index;
      if (!any_counted) continue;  // void regions cost no exp
      const T* const x = logits + p0 * C;
      T m[kRowTile], total[kRowTile];
      block_max_sum_exp(x, n, C, tile, m, total);
      for (int64_t r = 0; r < n; ++r) {
        const int64_t y = static_cast<int64_t>(labels[p0 + r]);
        if (y == s.ignore_index) continue;
        if (!valid_label(labels[p0 + r], C)) {
          first_invalid = std::min(first_invalid, p0 + r);
          continue;
        }
        if (row_stats) {
          row_stats[2 * (p0 + r)] = m[r];
          row_stats[2 * (p0 + r) + 1] = T(1) / total[r];
        }
        const double w = class_weights ? static_cast<double>(class_weights[y]) : 1.0;
        loss += w * (static_cast<double>(std::log(total[r])) + static_cast<double>(m[r] - x[r * C + y]));
        weight += w;
      }
    }
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
#pragma omp simd
    for (int64_t k = 0; k < C; ++k) out[k] = factor * fast_exp(x[k] - m);
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
