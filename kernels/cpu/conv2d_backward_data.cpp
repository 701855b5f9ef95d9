// Convolution backward-data on the CPU. Stride 1: dx is itself a convolution of dy with the spatially flipped,
// in/out-transposed weights and padding d*(K-1) - p, so it reuses the forward (Winograd's where it applies, else the
// forward tiles: gather form, no races).
// Stride > 1: per tile of output pixels, columns = dy * w (GEMM split over patch columns), then col2im written as a
// gather over input pixels, so threads never write the same element.
#include <omp.h>

#include <algorithm>
#include <type_traits>

#include "core/error.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/cpu/conv2d_winograd.h"
#include "kernels/gemm.h"

namespace atrous::kernels {
namespace {

using namespace conv2d_detail;

// The stride-1 backward pass as a forward convolution of dy [N,OH,OW,Cout] into dx [N,H,W,Cin].
Conv2dShape transposed_shape(const Conv2dShape& s) {
  Conv2dShape t;
  t.n = s.n;
  t.h = s.oh;
  t.w = s.ow;
  t.cin = s.cout;
  t.cout = s.cin;
  t.kh = s.kh;
  t.kw = s.kw;
  t.oh = s.h;
  t.ow = s.w;
  t.stride = 1;
  t.dilation = s.dilation;
  t.pad_h = s.dilation * (s.kh - 1) - s.pad_h;
  t.pad_w = s.dilation * (s.kw - 1) - s.pad_w;
  return t;
}

// flipped[ci, tap', co] = w[co, taps-1-tap', ci], in 32x32 blocks written row by row (contiguous stores; the
// strided reads spread over 32 cache lines that stay in L1 while the block is written).
template <typename T>
void flip_transpose_weights(const Conv2dShape& s, const T* __restrict__ w, T* __restrict__ flipped) {
  constexpr int64_t kBlock = 32;
  const int64_t taps = s.kh * s.kw, cin = s.cin, cout = s.cout;
  const int64_t co_blocks = ceil_div(cout, kBlock), ci_blocks = ceil_div(cin, kBlock);
#pragma omp parallel for collapse(3) schedule(static) if (taps * cin * cout > (1 << 18))
  for (int64_t tap = 0; tap < taps; ++tap) {
    for (int64_t cib = 0; cib < ci_blocks; ++cib) {
      for (int64_t cob = 0; cob < co_blocks; ++cob) {
        const T* src = w + (taps - 1 - tap) * cin;  // rows co, row stride taps*cin
        T* dst = flipped + tap * cout;              // rows ci, row stride taps*cout
        const int64_t co_end = std::min(cout, (cob + 1) * kBlock), ci_end = std::min(cin, (cib + 1) * kBlock);
        for (int64_t ci = cib * kBlock; ci < ci_end; ++ci)
          for (int64_t co = cob * kBlock; co < co_end; ++co) dst[ci * taps * cout + co] = src[co * taps * cin + ci];
      }
    }
  }
}

// With this many output channels per tap, multiplying tap by tap straight from w (WeightLayout::transposed_flipped)
// ran as fast as the forward pass; with fewer, the thin per-tap GEMMs lose ~10% and a flipped copy of w is cheap.
constexpr int64_t kMinChannelsPerTapGemm = 256;

bool use_flipped_copy(const Conv2dShape& s) { return s.cout < kMinChannelsPerTapGemm && s.kh * s.kw > 1; }

// Contiguous ranges of output pixels [k*size, (k+1)*size), shared by all threads one at a time.
struct StridedPlan {
  int64_t size = 0;
  int64_t count = 0;
};

template <typename T>
StridedPlan strided_plan(const Conv2dShape& s) {
  StridedPlan plan;
  if (s.pixels() == 0) return plan;
  // One shared buffer: give it the budget of all threads.
  const int64_t max_tile = budget_tile_pixels<T>(s.patch()) * plan_threads(s);
  plan.count = ceil_div(s.pixels(), max_tile);
  plan.size = ceil_div(s.pixels(), plan.count);
  return plan;
}

// dx[n, iy, ix, :] += columns[m - m0, tap, :] over every tap of every output pixel m in [m0, m1) that samples it.
template <typename T>
void col2im_gather_tile(const Conv2dShape& s, const T* __restrict__ col, int64_t m0, int64_t m1, T* __restrict__ dx) {
  const int64_t cin = s.cin, patch = s.patch(), d = s.dilation, st = s.stride;
  const int64_t per_image = s.oh * s.ow;
  const int64_t n_first = m0 / per_image, n_last = (m1 - 1) / per_image;
  for (int64_t n = n_first; n <= n_last; ++n) {
    const int64_t oy_lo = n == n_first ? (m0 % per_image) / s.ow : 0;
    const int64_t oy_hi = n == n_last ? ((m1 - 1) % per_image) / s.ow : s.oh - 1;
    const int64_t iy_lo = std::max<int64_t>(0, oy_lo * st - s.pad_h);
    const int64_t iy_hi = std::min<int64_t>(s.h - 1, oy_hi * st - s.pad_h + (s.kh - 1) * d);
    if (iy_hi < iy_lo) continue;
    const int64_t count = (iy_hi - iy_lo + 1) * s.w;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < count; ++i) {
      const int64_t iy = iy_lo + i / s.w, ix = i % s.w;
      T* __restrict__ out = dx + ((n * s.h + iy) * s.w + ix) * cin;
      for (int64_t kh = 0; kh < s.kh; ++kh) {
        const int64_t ty = iy + s.pad_h - kh * d;  // = oy * stride
        if (ty < 0) break;
        if (ty % st != 0 || ty / st >= s.oh) continue;
        for (int64_t kw = 0; kw < s.kw; ++kw) {
          const int64_t tx = ix + s.pad_w - kw * d;
          if (tx < 0) break;
          if (tx % st != 0 || tx / st >= s.ow) continue;
          const int64_t m = (n * s.oh + ty / st) * s.ow + tx / st;
          if (m < m0 || m >= m1) continue;
          const T* __restrict__ src = col + (m - m0) * patch + (kh * s.kw + kw) * cin;
#pragma omp simd
          for (int64_t c = 0; c < cin; ++c) out[c] += src[c];
        }
      }
    }
  }
}

template <typename T>
void backward_data_strided(const Conv2dShape& s, const T* dy, const T* w, T* dx, T* col) {
  const StridedPlan plan = strided_plan<T>(s);
  const int64_t patch = s.patch(), pixels = s.pixels(), dx_elems = s.n * s.h * s.w * s.cin;
#pragma omp parallel num_threads(plan_threads(s))
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < dx_elems; ++i) dx[i] = T(0);
    const int64_t parts = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t k_lo = patch * id / parts, k_hi = patch * (id + 1) / parts;
    for (int64_t t = 0; t < plan.count; ++t) {
      const int64_t m0 = t * plan.size, m1 = std::min(pixels, m0 + plan.size);
      gemm<T>(Transpose::no, Transpose::no, m1 - m0, k_hi - k_lo, s.cout, T(1), dy + m0 * s.cout, s.cout, w + k_lo,
              patch, T(0), col + k_lo, patch);
#pragma omp barrier
      col2im_gather_tile(s, col, m0, m1, dx);  // ends with the omp for's barrier: col is free again
    }
  }
}

}  // namespace

template <typename T>
int64_t conv2d_backward_data_workspace_cpu(const Conv2dShape& s) {
  if (s.stride == 1) {
    const int64_t weight_elems = s.kh * s.kw * s.cin * s.cout;
    if (uses_winograd<T>(transposed_shape(s))) return weight_elems + winograd_workspace(transposed_shape(s));
    if (use_flipped_copy(s)) return weight_elems + forward_tiles_workspace<T>(transposed_shape(s));
    return forward_tiles_workspace<T>(transposed_shape(s));
  }
  return strided_plan<T>(s).size * s.patch();
}

template <typename T>
void conv2d_backward_data_cpu(const Conv2dShape& s, const T* dy, const T* w, T* dx, T* workspace,
                              int64_t workspace_elems) {
  const int64_t needed = conv2d_backward_data_workspace_cpu<T>(s);
  ATROUS_CHECK(workspace_elems >= needed, "conv2d backward-data: workspace of ", workspace_elems,
               " elements is smaller than the ", needed, " needed");
  const int64_t dx_elems = s.n * s.h * s.w * s.cin;
  if (dx_elems == 0) return;
  if (s.pixels() == 0) {
    std::fill(dx, dx + dx_elems, T(0));
    return;
  }
  if (s.stride == 1) {
    const int64_t weight_elems = s.kh * s.kw * s.cin * s.cout;
    if constexpr (std::is_same_v<T, float>) {
      if (uses_winograd<T>(transposed_shape(s))) {  // 3x3: the Winograd forward on the flipped copy
        flip_transpose_weights(s, w, workspace);
        winograd_forward(transposed_shape(s), dy, workspace, ConvEpilogue<T>{}, dx, workspace + weight_elems,
                         workspace_elems - weight_elems);
        return;
      }
    }
    if (use_flipped_copy(s)) {
      flip_transpose_weights(s, w, workspace);
      forward_tiles(transposed_shape(s), dy, workspace, WeightLayout::forward, ConvEpilogue<T>{}, dx,
                    workspace + weight_elems, workspace_elems - weight_elems);
      return;
    }
    forward_tiles(transposed_shape(s), dy, w, WeightLayout::transposed_flipped, ConvEpilogue<T>{}, dx,
                  workspace, workspace_elems);
    return;
  }
  backward_data_strided(s, dy, w, dx, workspace);
}

#define ATROUS_INSTANTIATE(T)                                                     \
  template int64_t conv2d_backward_data_workspace_cpu<T>(const Conv2dShape&);    \
  template void conv2d_backward_data_cpu<T>(const Conv2dShape&, const T*, const T*, T*, T*, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
