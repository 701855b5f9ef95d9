// Convolution forward on the CPU: y = im2col(x) * w^T + bias, tile by tile of output pixels. Each thread owns whole
// tiles (its own column buffer, one single-threaded GEMM per tile); measured faster here than sharing each GEMM
// between threads. 1x1 stride-1 unpadded convolutions skip im2col: NHWC x already is the [N*H*W, Cin] matrix.
#include <omp.h>

#include "core/error.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/gemm.h"

namespace atrous::kernels {
namespace {

using namespace conv2d_detail;

struct ForwardPlan {
  int threads = 1;
  TilePlan tiles;
  int64_t columns_per_thread = 0;  // elements of im2col buffer per thread
};

template <typename T>
ForwardPlan forward_plan(const Conv2dShape& s) {
  ForwardPlan plan;
  plan.threads = plan_threads(s);
  const int64_t max_tile = s.is_pointwise() ? kMaxTilePixels : budget_tile_pixels<T>(s.patch());
  plan.tiles = plan_tiles(s.pixels(), max_tile, plan.threads);
  if (!s.is_pointwise()) plan.columns_per_thread = plan.tiles.size * s.patch();
  return plan;
}

}  // namespace

template <typename T>
int64_t conv2d_forward_workspace_cpu(const Conv2dShape& s) {
  const ForwardPlan plan = forward_plan<T>(s);
  return plan.threads * plan.columns_per_thread;
}

template <typename T>
void conv2d_forward_cpu(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y, T* workspace,
                        int64_t workspace_elems) {
  const ForwardPlan plan = forward_plan<T>(s);
  ATROUS_CHECK(workspace_elems >= plan.threads * plan.columns_per_thread, "conv2d forward: workspace of ",
               workspace_elems, " elements is smaller than the ", plan.threads * plan.columns_per_thread, " needed");
  const int64_t patch = s.patch(), pixels = s.pixels(), cout = s.cout;
#pragma omp parallel num_threads(plan.threads)
  {
    T* col = workspace + omp_get_thread_num() * plan.columns_per_thread;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < plan.tiles.count; ++t) {
      const int64_t m0 = t * plan.tiles.size, m1 = std::min(pixels, m0 + plan.tiles.size);
      const T* a = x + m0 * s.cin;
      if (!s.is_pointwise()) {
        im2col_tile(s, x, m0, m1, 0, patch, col, patch);
        a = col;
      }
      T* y_tile = y + m0 * cout;
      gemm<T>(Transpose::no, Transpose::yes, m1 - m0, cout, patch, T(1), a, patch, w, patch, T(0), y_tile, cout);
      if (bias) {
        for (int64_t r = 0; r < m1 - m0; ++r) {
          T* __restrict__ row = y_tile + r * cout;
#pragma omp simd
          for (int64_t c = 0; c < cout; ++c) row[c] += bias[c];
        }
      }
    }
  }
}

#define ATROUS_INSTANTIATE(T)                                                                           \
  template int64_t conv2d_forward_workspace_cpu<T>(const Conv2dShape&);                                \
  template void conv2d_forward_cpu<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
