// Bilinear resize on NHWC arrays, CPU. Forward: each output pixel blends its 4 input neighbours, channels innermost.
// Backward: a gather. Per axis we list, for each input index, the (output index, weight) pairs that read it; each
// thread then owns a tile of input rows, reduces the output rows that touch the tile along x into a private buffer,
// and blends those rows along y into dx. No two threads write the same dx element, so no atomics are needed.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/resize.h"

namespace atrous::kernels {
namespace {

// Below this many output elements a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 15;

// One output index's two input neighbours along an axis. hi == lo when clamped at the border; frac is then 0.
struct Tap {
  int64_t lo = 0, hi = 0;
  double frac = 0.0;
};

std::vector<Tap> axis_taps(int64_t in, int64_t out, bool align_corners) {
  std::vector<Tap> taps(out);
  for (int64_t o = 0; o < out; ++o) {
    const double src = resize_source_index(o, in, out, align_corners);
    Tap& t = taps[o];
    t.lo = std::min(static_cast<int64_t>(src), in - 1);
    t.hi = std::min(t.lo + 1, in - 1);
    t.frac = t.hi == t.lo ? 0.0 : src - static_cast<double>(t.lo);
  }
  return taps;
}

template <typename T>
struct Contribution {
  int64_t dst;  // output index
  T weight;
};

// For each input index i, entries[offsets[i] .. offsets[i+1]) are the output indices that read it, ascending.
template <typename T>
struct GatherList {
  std::vector<int64_t> offsets;
  std::vector<Contribution<T>> entries;
};

template <typename T>
GatherList<T> gather_list(const std::vector<Tap>& taps, int64_t in) {
  GatherList<T> list;
  list.offsets.assign(in + 1, 0);
  for (const Tap& t : taps) {
    ++list.offsets[t.lo + 1];
    if (t.frac != 0.0) ++list.offsets[t.hi + 1];
  }
  for (int64_t i = 0; i < in; ++i) list.offsets[i + 1] += list.offsets[i];
  list.entries.resize(list.offsets[in]);
  std::vector<int64_t> next(list.offsets.begin(), list.offsets.end() - 1);
  for (int64_t o = 0; o < static_cast<int64_t>(taps.size()); ++o) {
    const Tap& t = taps[o];
    list.entries[next[t.lo]++] = {o, static_cast<T>(1.0 - t.frac)};
    if (t.frac != 0.0) list.entries[next[t.hi]++] = {o, static_cast<T>(t.frac)};
  }
  return list;
}

// Backward tiling: each task covers `rows` consecutive input rows; output rows [first[k], last[k]] touch tile k (a
// contiguous range because source indices grow with the output index); span bounds last - first + 1.
struct RowTiling {
  int64_t rows = 1, tiles = 0, span = 0;
  std::vector<int64_t> first, last;
};

RowTiling row_tiling(const std::vector<Tap>& y_taps, int64_t in_h, int64_t out_h) {
  // About 32 output rows per tile keeps the x-reduced rows in L2, and the output row shared by two neighbouring
  // tiles (reduced by both) costs only ~3% extra reads of dy.
  constexpr double kOutputRowsPerTile = 32.0;
  RowTiling tiling;
  tiling.rows = std::max<int64_t>(1, static_cast<int64_t>(kOutputRowsPerTile * in_h / out_h));
  tiling.tiles = (in_h + tiling.rows - 1) / tiling.rows;
  tiling.first.assign(tiling.tiles, out_h);
  tiling.last.assign(tiling.tiles, -1);
  for (int64_t o = 0; o < out_h; ++o) {
    const Tap& t = y_taps[o];
    const int64_t touched = t.frac != 0.0 ? 2 : 1;
    for (int64_t r = 0; r < touched; ++r) {
      const int64_t tile = (r == 0 ? t.lo : t.hi) / tiling.rows;
      tiling.first[tile] = std::min(tiling.first[tile], o);
      tiling.last[tile] = std::max(tiling.last[tile], o);
    }
  }
  for (int64_t k = 0; k < tiling.tiles; ++k)
    tiling.span = std::max(tiling.span, tiling.last[k] - tiling.first[k] + 1);
  return tiling;
}

}  // namespace

template <typename T>
void resize_bilinear_forward_cpu(const T* x, T* y, const ResizeShape& s) {
  const int64_t C = s.channels;
  const std::vector<Tap> ty = axis_taps(s.in_h, s.out_h, s.align_corners);
  const std::vector<Tap> tx = axis_taps(s.in_w, s.out_w, s.align_corners);
  // Per-column offsets and weights in T, so the inner loop does no index arithmetic or conversions.
  std::vector<int64_t> x_lo(s.out_w), x_hi(s.out_w);
  std::vector<T> wx0(s.out_w), wx1(s.out_w);
  for (int64_t o = 0; o < s.out_w; ++o) {
    x_lo[o] = tx[o].lo * C;
    x_hi[o] = tx[o].hi * C;
    wx1[o] = static_cast<T>(tx[o].frac);
    wx0[o] = static_cast<T>(1.0 - tx[o].frac);
  }
  const int64_t in_row = s.in_w * C, out_row = s.out_w * C;
  const bool parallel = s.batch * s.out_h * out_row > kParallelThreshold;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      const Tap& t = ty[oy];
      const T* __restrict__ r0 = x + (n * s.in_h + t.lo) * in_row;
      const T* __restrict__ r1 = x + (n * s.in_h + t.hi) * in_row;
      const T wy1 = static_cast<T>(t.frac), wy0 = static_cast<T>(1.0 - t.frac);
      T* __restrict__ out = y + (n * s.out_h + oy) * out_row;
      for (int64_t ox = 0; ox < s.out_w; ++ox, out += C) {
        const T w00 = wy0 * wx0[ox], w01 = wy0 * wx1[ox], w10 = wy1 * wx0[ox], w11 = wy1 * wx1[ox];
        const T* __restrict__ a = r0 + x_lo[ox];
        const T* __restrict__ b = r0 + x_hi[ox];
        const T* __restrict__ c = r1 + x_lo[ox];
        const T* __restrict__ d = r1 + x_hi[ox];
#pragma omp simd
        for (int64_t k = 0; k < C; ++k) out[k] = w00 * a[k] + w01 * b[k] + w10 * c[k] + w11 * d[k];
      }
    }
  }
}

int64_t resize_bilinear_backward_workspace_size(const ResizeShape& s) {
  if (s.batch == 0 || s.channels == 0) return 0;
  const RowTiling tiling = row_tiling(axis_taps(s.in_h, s.out_h, s.align_corners), s.in_h, s.out_h);
  return static_cast<int64_t>(omp_get_max_threads()) * tiling.span * s.in_w * s.channels;
}

template <typename T>
void resize_bilinear_backward_cpu(const T* dy, T* dx, T* workspace, const ResizeShape& s) {
  if (s.batch == 0 || s.channels == 0) return;
  const int64_t C = s.channels;
  const std::vector<Tap> ty = axis_taps(s.in_h, s.out_h, s.align_corners);
  const GatherList<T> rows = gather_list<T>(ty, s.in_h);
  const GatherList<T> cols = gather_list<T>(axis_taps(s.in_w, s.out_w, s.align_corners), s.in_w);
  const RowTiling tiling = row_tiling(ty, s.in_h, s.out_h);
  const int64_t in_row = s.in_w * C, out_row = s.out_w * C;
  const int64_t per_thread = tiling.span * in_row;
  const bool parallel = s.batch * s.out_h * out_row > kParallelThreshold;

#pragma omp parallel if (parallel)
  {
    T* const buffer = workspace + omp_get_thread_num() * per_thread;
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < s.batch; ++n) {
      for (int64_t tile = 0; tile < tiling.tiles; ++tile) {
        const int64_t iy0 = tile * tiling.rows, iy1 = std::min(s.in_h, iy0 + tiling.rows);
        const int64_t oy0 = tiling.first[tile], oy1 = tiling.last[tile] + 1;
        // 1. Reduce each touching output row along x: buffer row (oy - oy0) holds in_w x C sums.
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          const T* __restrict__ src = dy + (n * s.out_h + oy) * out_row;
          T* __restrict__ dst = buffer + (oy - oy0) * in_row;
          for (int64_t ix = 0; ix < s.in_w; ++ix, dst += C) {
            const int64_t e0 = cols.offsets[ix], e1 = cols.offsets[ix + 1];
            if (e0 == e1) {
              std::fill(dst, dst + C, T(0));
              continue;
            }
            {
              const T w = cols.entries[e0].weight;
              const T* __restrict__ g = src + cols.entries[e0].dst * C;
#pragma omp simd
              for (int64_t k = 0; k < C; ++k) dst[k] = w * g[k];
            }
            for (int64_t e = e0 + 1; e < e1; ++e) {
              const T w = cols.entries[e].weight;
              const T* __restrict__ g = src + cols.entries[e].dst * C;
#pragma omp simd
              for (int64_t k = 0; k < C; ++k) dst[k] += w * g[k];
            }
          }
        }
        // 2. Blend the reduced rows along y into whole dx rows (contiguous in_w x C runs).
        for (int64_t iy = iy0; iy < iy1; ++iy) {
          T* __restrict__ dst = dx + (n * s.in_h + iy) * in_row;
          const int64_t e0 = rows.offsets[iy], e1 = rows.offsets[iy + 1];
          if (e0 == e1) {
            std::fill(dst, dst + in_row, T(0));
            continue;
          }
          {
            const T w = rows.entries[e0].weight;
            const T* __restrict__ g = buffer + (rows.entries[e0].dst - oy0) * in_row;
#pragma omp simd
            for (int64_t k = 0; k < in_row; ++k) dst[k] = w * g[k];
          }
          for (int64_t e = e0 + 1; e < e1; ++e) {
            const T w = rows.entries[e].weight;
            const T* __restrict__ g = buffer + (rows.entries[e].dst - oy0) * in_row;
#pragma omp simd
            for (int64_t k = 0; k < in_row; ++k) dst[k] += w * g[k];
          }
        }
      }
    }
  }
}

template void resize_bilinear_forward_cpu<float>(const float*, float*, const ResizeShape&);
template void resize_bilinear_forward_cpu<double>(const double*, double*, const ResizeShape&);
template void resize_bilinear_backward_cpu<float>(const float*, float*, float*, const ResizeShape&);
template void resize_bilinear_backward_cpu<double>(const double*, double*, double*, const ResizeShape&);

}  // namespace atrous::kernels
