// Bilinear resize on NHWC arrays, CPU, separable so that almost all work is long contiguous vector loops rather than
// per-pixel loops over a few channels. Forward: interpolate the (at most two) input rows an output row needs along x
// (kept in a per-thread two-row cache, so upsampling interpolates each input row about once), then blend them along
// y. Backward: a gather, no atomics: per axis we list, for each input index, the (output index, weight) pairs that
// read it; each thread owns whole dx rows: it sums the dy rows that read input row iy, weighted, then gathers that
// row along x.
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

// Interpolates one input row along x into an output-width row: dst[ox] = w0 * src[lo] + w1 * src[hi], C each.
template <typename T>
void interpolate_row_x(const T* __restrict__ src, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi,
                       const std::vector<T>& w0, const std::vector<T>& w1, int64_t C, T* __restrict__ dst) {
  const int64_t out_w = static_cast<int64_t>(lo.size());
  for (int64_t ox = 0; ox < out_w; ++ox, dst += C) {
    const T a = w0[ox], b = w1[ox];
    const T* __restrict__ p = src + lo[ox];
    const T* __restrict__ q = src + hi[ox];
#pragma omp simd
    for (int64_t k = 0; k < C; ++k) dst[k] = a * p[k] + b * q[k];
  }
}

}  // namespace

template <typename T>
void resize_bilinear_forward_cpu(const T* x, T* y, T* workspace, const ResizeShape& s) {
  if (s.batch == 0 || s.channels == 0) return;
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

#pragma omp parallel if (parallel)
  {
    // Two x-interpolated input rows, tagged with the (image, row) they hold (-1: nothing yet).
    T* const slot[2] = {workspace + omp_get_thread_num() * 2 * out_row,
                        workspace + omp_get_thread_num() * 2 * out_row + out_row};
    int64_t held[2] = {-1, -1};
    // Returns the slot holding input row `key`, interpolating it into the slot not holding `keep` if needed.
    auto row = [&](int64_t key, int64_t keep) -> const T* {
      for (int k = 0; k < 2; ++k)
        if (held[k] == key) return slot[k];
      const int victim = held[0] == keep ? 1 : 0;
      held[victim] = key;
      interpolate_row_x(x + key * in_row, x_lo, x_hi, wx0, wx1, C, slot[victim]);
      return slot[victim];
    };
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < s.batch; ++n) {
      for (int64_t oy = 0; oy < s.out_h; ++oy) {
        const Tap& t = ty[oy];
        const int64_t lo = n * s.in_h + t.lo, hi = n * s.in_h + t.hi;
        T* __restrict__ out = y + (n * s.out_h + oy) * out_row;
        const T* __restrict__ a = row(lo, hi);
        if (t.frac == 0.0) {
          std::copy(a, a + out_row, out);
          continue;
        }
        const T* __restrict__ b = row(hi, lo);
        const T wy1 = static_cast<T>(t.frac), wy0 = static_cast<T>(1.0 - t.frac);
#pragma omp simd
        for (int64_t k = 0; k < out_row; ++k) out[k] = wy0 * a[k] + wy1 * b[k];
      }
    }
  }
}

int64_t resize_bilinear_forward_workspace_size(const ResizeShape& s) {
  return static_cast<int64_t>(omp_get_max_threads()) * 2 * s.out_w * s.channels;
}

int64_t resize_bilinear_backward_workspace_size(const ResizeShape& s) {
  return static_cast<int64_t>(omp_get_max_threads()) * s.out_w * s.channels;
}

template <typename T>
void resize_bilinear_backward_cpu(const T* dy, T* dx, T* workspace, const ResizeShape& s) {
  if (s.batch == 0 || s.channels == 0) return;
  const int64_t C = s.channels;
  const GatherList<T> rows = gather_list<T>(axis_taps(s.in_h, s.out_h, s.align_corners), s.in_h);
  const GatherList<T> cols = gather_list<T>(axis_taps(s.in_w, s.out_w, s.align_corners), s.in_w);
  const int64_t in_row = s.in_w * C, out_row = s.out_w * C;
  const bool parallel = s.batch * s.out_h * out_row > kParallelThreshold;

#pragma omp parallel if (parallel)
  {
    T* const reduced = workspace + omp_get_thread_num() * out_row;
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < s.batch; ++n) {
      for (int64_t iy = 0; iy < s.in_h; ++iy) {
        T* __restrict__ out = dx + (n * s.in_h + iy) * in_row;
        const int64_t r0 = rows.offsets[iy], r1 = rows.offsets[iy + 1];
        if (r0 == r1) {
          std::fill(out, out + in_row, T(0));
          continue;
        }
        // 1. Sum the output rows that read input row iy, weighted, into one output-width row (contiguous runs).
        {
          const T w = rows.entries[r0].weight;
          const T* __restrict__ g = dy + (n * s.out_h + rows.entries[r0].dst) * out_row;
          T* __restrict__ acc = reduced;
#pragma omp simd
          for (int64_t k = 0; k < out_row; ++k) acc[k] = w * g[k];
        }
        for (int64_t e = r0 + 1; e < r1; ++e) {
          const T w = rows.entries[e].weight;
          const T* __restrict__ g = dy + (n * s.out_h + rows.entries[e].dst) * out_row;
          T* __restrict__ acc = reduced;
#pragma omp simd
          for (int64_t k = 0; k < out_row; ++k) acc[k] += w * g[k];
        }
        // 2. Gather that row along x into dx's row.
        T* __restrict__ dst = out;
        for (int64_t ix = 0; ix < s.in_w; ++ix, dst += C) {
          const int64_t e0 = cols.offsets[ix], e1 = cols.offsets[ix + 1];
          if (e0 == e1) {
            std::fill(dst, dst + C, T(0));
            continue;
          }
          {
            const T w = cols.entries[e0].weight;
            const T* __restrict__ g = reduced + cols.entries[e0].dst * C;
#pragma omp simd
            for (int64_t k = 0; k < C; ++k) dst[k] = w * g[k];
          }
          for (int64_t e = e0 + 1; e < e1; ++e) {
            const T w = cols.entries[e].weight;
            const T* __restrict__ g = reduced + cols.entries[e].dst * C;
#pragma omp simd
            for (int64_t k = 0; k < C; ++k) dst[k] += w * g[k];
          }
        }
      }
    }
  }
}

template void resize_bilinear_forward_cpu<float>(const float*, float*, float*, const ResizeShape&);
template void resize_bilinear_forward_cpu<double>(const double*, double*, double*, const ResizeShape&);
template void resize_bilinear_backward_cpu<float>(const float*, float*, float*, const ResizeShape&);
template void resize_bilinear_backward_cpu<double>(const double*, double*, double*, const ResizeShape&);

}  // namespace atrous::kernels
