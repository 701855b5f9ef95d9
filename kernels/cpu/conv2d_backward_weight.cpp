// Convolution weight and bias gradients on the CPU: dw[Cout, K] = dy^T [Cout, pixels] * im2col(x) [pixels, K].
// Each thread owns a contiguous range of the K patch columns of dw (no reduction, no races) and walks it in chunks of
// up to 2304 columns; each chunk accumulates over short tiles of pixels whose im2col fits in L2.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/gemm.h"

namespace atrous::kernels {
namespace {

using namespace conv2d_detail;

// The dw block [Cout, chunk] is re-read for every tile: at 4608 columns (19 MB for fc6) it fell out of L3, -15%.
constexpr int64_t kMaxChunkColumns = 2304;
// Shorter tiles make the GEMM depth too small for its dw read-modify-write to pay off.
constexpr int64_t kMinWeightTilePixels = 128;

struct WeightPlan {
  int parts = 1;            // K is split into this many equal ranges, one per thread
  int64_t chunk = 0;        // columns per chunk within a range
  int64_t tile_pixels = 0;  // pixels per im2col tile
  int64_t buffer_per_part = 0;
};

template <typename T>
WeightPlan weight_plan(const Conv2dShape& s) {
  WeightPlan plan;
  plan.parts = plan_threads(s);
  const int64_t range = std::max<int64_t>(1, ceil_div(s.patch(), plan.parts));
  plan.chunk = ceil_div(range, ceil_div(range, kMaxChunkColumns));  // equal chunks
  const int64_t budget = kWeightBudgetBytes / int64_t(sizeof(T));
  plan.tile_pixels = std::min(std::max(budget / plan.chunk, kMinWeightTilePixels), std::max<int64_t>(1, s.pixels()));
  if (!s.is_pointwise()) plan.buffer_per_part = plan.chunk * plan.tile_pixels;
  return plan;
}

}  // namespace

template <typename T>
int64_t conv2d_backward_weight_workspace_cpu(const Conv2dShape& s) {
  const WeightPlan plan = weight_plan<T>(s);
  return plan.parts * plan.buffer_per_part;
}

template <typename T>
void conv2d_backward_weight_cpu(const Conv2dShape& s, const T* dy, const T* x, T* dw, T* workspace,
                                int64_t workspace_elems) {
  const WeightPlan plan = weight_plan<T>(s);
  ATROUS_CHECK(workspace_elems >= plan.parts * plan.buffer_per_part, "conv2d backward-weight: workspace of ",
               workspace_elems, " elements is smaller than the ", plan.parts * plan.buffer_per_part, " needed");
  const int64_t patch = s.patch(), pixels = s.pixels(), cout = s.cout;
  if (pixels == 0) {
    std::fill(dw, dw + cout * patch, T(0));
    return;
  }
#pragma omp parallel num_threads(plan.parts)
  {
    // Loop over parts rather than trusting the team size: a nested call may get fewer threads than planned.
    for (int64_t part = omp_get_thread_num(); part < plan.parts; part += omp_get_num_threads()) {
      T* col = workspace + part * plan.buffer_per_part;
      const int64_t k_begin = patch * part / plan.parts, k_end = patch * (part + 1) / plan.parts;
      for (int64_t k0 = k_begin; k0 < k_end; k0 += plan.chunk) {
        const int64_t k1 = std::min(k_end, k0 + plan.chunk);
        for (int64_t m0 = 0; m0 < pixels; m0 += plan.tile_pixels) {
          const int64_t m1 = std::min(pixels, m0 + plan.tile_pixels);
          const T* b = x + m0 * s.cin + k0;  // pointwise: x is the im2col matrix
          int64_t ldb = s.cin;
          if (!s.is_pointwise()) {
            im2col_tile(s, x, m0, m1, k0, k1, col, k1 - k0);
            b = col;
            ldb = k1 - k0;
          }
          gemm<T>(Transpose::yes, Transpose::no, cout, k1 - k0, m1 - m0, T(1), dy + m0 * cout, cout, b, ldb,
                  m0 == 0 ? T(0) : T(1), dw + k0, patch);
        }
      }
    }
  }
}

template <typename T>
void conv2d_backward_bias_cpu(const Conv2dShape& s, const T* dy, T* db) {
  const int64_t pixels = s.pixels(), cout = s.cout;
  const int threads = pixels * cout > (1 << 16) ? std::max(1, omp_get_max_threads()) : 1;
  std::vector<double> partial(size_t(threads) * cout, 0.0);  // one per thread, summed below in a fixed order
#pragma omp parallel num_threads(threads)
  {
    double* __restrict__ acc = partial.data() + omp_get_thread_num() * cout;
#pragma omp for schedule(static)
    for (int64_t m = 0; m < pixels; ++m) {
      const T* __restrict__ row = dy + m * cout;
#pragma omp simd
      for (int64_t c = 0; c < cout; ++c) acc[c] += static_cast<double>(row[c]);
    }
  }
  for (int64_t c = 0; c < cout; ++c) {
    double total = 0.0;
    for (int t = 0; t < threads; ++t) total += partial[size_t(t) * cout + c];
    db[c] = static_cast<T>(total);
  }
}

#define ATROUS_INSTANTIATE(T)                                                                       \
  template int64_t conv2d_backward_weight_workspace_cpu<T>(const Conv2dShape&);                    \
  template void conv2d_backward_weight_cpu<T>(const Conv2dShape&, const T*, const T*, T*, T*, int64_t); \
  template void conv2d_backward_bias_cpu<T>(const Conv2dShape&, const T*, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
