// Convolution forward on the CPU: y = im2col(x) * w^T + bias, tile by tile of output pixels. Each thread owns whole
// tiles (its own column buffer, one single-threaded GEMM per tile); measured faster here than sharing each GEMM
// between threads. 1x1 stride-1 unpadded convolutions skip im2col: NHWC x already is the [N*H*W, Cin] matrix.
#include <omp.h>

#include "core/error.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/gemm.h"

namespace atrous::kernels {
namespace conv2d_detail {
namespace {

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

// y_tile = a * B for one tile of rows; a is [rows, patch] with row stride lda.
template <typename T>
void multiply_tile(const Conv2dShape& s, int64_t rows, const T* a, int64_t lda, const T* w, WeightLayout layout,
                   T* y_tile) {
  if (layout == WeightLayout::forward) {
    gemm<T>(Transpose::no, Transpose::yes, rows, s.cout, s.patch(), T(1), a, lda, w, s.patch(), T(0), y_tile, s.cout);
    return;
  }
  const int64_t taps = s.kh * s.kw;
  for (int64_t t = 0; t < taps; ++t) {
    gemm<T>(Transpose::no, Transpose::no, rows, s.cout, s.cin, T(1), a + t * s.cin, lda, w + (taps - 1 - t) * s.cout,
            taps * s.cout, t == 0 ? T(0) : T(1), y_tile, s.cout);
  }
}

}  // namespace

template <typename T>
int64_t forward_tiles_workspace(const Conv2dShape& s) {
  const ForwardPlan plan = forward_plan<T>(s);
  return plan.threads * plan.columns_per_thread;
}

template <typename T>
void forward_tiles(const Conv2dShape& s, const T* x, const T* w, WeightLayout layout, const T* bias, T* y,
                   T* workspace, int64_t workspace_elems) {
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
      multiply_tile(s, m1 - m0, a, patch, w, layout, y_tile);
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

template int64_t forward_tiles_workspace<float>(const Conv2dShape&);
template int64_t forward_tiles_workspace<double>(const Conv2dShape&);
template void forward_tiles<float>(const Conv2dShape&, const float*, const float*, WeightLayout, const float*, float*,
                                   float*, int64_t);
template void forward_tiles<double>(const Conv2dShape&, const double*, const double*, WeightLayout, const double*,
                                    double*, double*, int64_t);

}  // namespace conv2d_detail

template <typename T>
int64_t conv2d_forward_workspace_cpu(const Conv2dShape& s) {
  return conv2d_detail::forward_tiles_workspace<T>(s);
}

template <typename T>
void conv2d_forward_cpu(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y, T* workspace,
                        int64_t workspace_elems) {
  conv2d_detail::forward_tiles(s, x, w, conv2d_detail::WeightLayout::forward, bias, y, workspace, workspace_elems);
}

#define ATROUS_INSTANTIATE(T)                                                                           \
  template int64_t conv2d_forward_workspace_cpu<T>(const Conv2dShape&);                                \
  template void conv2d_forward_cpu<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
