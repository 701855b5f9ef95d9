// Argmax over the innermost axis, CPU: one row per iteration, rows spread over OpenMP threads.
#include <cmath>

#include "kernels/argmax.h"

namespace atrous::kernels {
namespace {

constexpr int64_t kParallelThreshold = 1 << 15;

}  // namespace

template <typename T>
void argmax_last_axis_cpu(const T* x, int32_t* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * cols;
    int64_t best = 0;
    T best_value = row[0];
    for (int64_t k = 1; k < cols && !std::isnan(best_value); ++k) {
      if (row[k] > best_value || std::isnan(row[k])) {
        best = k;
        best_value = row[k];
      }
    }
    out[r] = static_cast<int32_t>(best);
  }
}

template void argmax_last_axis_cpu<float>(const float*, int32_t*, int64_t, int64_t);
template void argmax_last_axis_cpu<double>(const double*, int32_t*, int64_t, int64_t);

}  // namespace atrous::kernels
