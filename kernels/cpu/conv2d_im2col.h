// Internal to the CPU conv kernels: im2col of one tile of output pixels (dilated taps, zeros for padding) and the
// tiling rules that keep column buffers bounded. Row m of the im2col matrix is output pixel m = (n*OH + oy)*OW + ox;
// column k = (kh*KW + kw)*Cin + c holds x[n, oy*s - pad_h + kh*d, ox*s - pad_w + kw*d, c].
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv2d.h"

namespace atrous::kernels::conv2d_detail {

// Forward / backward-data column buffer per thread. Eigen repacks the weights on every GEMM call, so a tile must hold
// enough output pixels to amortise that (fc6: ~450 rows); a 4 MB budget lost 15% on fc6, 8-32 MB formed the plateau.
// Tiles stay under 1024 pixels all the same: for 64-channel layers 1024-2048 beat 4096-8192 by 10-20%.
constexpr int64_t kColumnBudgetBytes = int64_t(16) << 20;
constexpr int64_t kMinTilePixels = 32;
constexpr int64_t kMaxTilePixels = 1024;
// Backward-weight column buffer per thread: about L2. There the big operand is dw itself (the GEMM output), not an
// input Eigen must repack, so short tiles that are consumed from L2 right after im2col won (+10% over 16 MB).
constexpr int64_t kWeightBudgetBytes = int64_t(1) << 20;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Below this many multiply-adds one thread is faster than waking a second; it also keeps thousands of tiny calls
// (gradient checks) from waiting at barriers for a thread the OS has parked on a busy shared machine.
constexpr double kMinParallelMultiplyAdds = 1 << 20;

inline int plan_threads(const Conv2dShape& s) {
  const double work = double(s.pixels()) * double(s.patch()) * double(s.cout);
  return work < kMinParallelMultiplyAdds ? 1 : std::max(1, omp_get_max_threads());
}

struct TilePlan {
  int64_t size = 0;   // output pixels per tile (the last may be shorter)
  int64_t count = 0;  // number of tiles
};

// Equal tiles of at most max_tile pixels, as many as a multiple of `threads` where possible, so that threads that
// each take whole tiles finish together.
inline TilePlan plan_tiles(int64_t pixels, int64_t max_tile, int threads) {
  if (pixels <= 0) return {};
  const int64_t wanted = threads * ceil_div(pixels, threads * std::max<int64_t>(1, max_tile));
  TilePlan plan;
  plan.size = ceil_div(pixels, wanted);
  plan.count = ceil_div(pixels, plan.size);
  return plan;
}

// Pixels per tile such that a [tile, columns] buffer of T fits the per-thread budget.
template <typename T>
int64_t budget_tile_pixels(int64_t columns) {
  const int64_t fit = kColumnBudgetBytes / (std::max<int64_t>(1, columns) * int64_t(sizeof(T)));
  return std::clamp(fit, kMinTilePixels, kMaxTilePixels);
}

// col[m - m0][k - k0] for output pixels [m0, m1) and patch columns [k0, k1); col rows are ldc apart.
template <typename T>
void im2col_tile(const Conv2dShape& s, const T* __restrict__ x, int64_t m0, int64_t m1, int64_t k0, int64_t k1,
                 T* __restrict__ col, int64_t ldc) {
  const int64_t cin = s.cin, d = s.dilation;
  const int64_t tap_first = k0 / cin, tap_last = (k1 - 1) / cin;
  int64_t ox = m0 % s.ow, oy = (m0 / s.ow) % s.oh, n = m0 / (s.ow * s.oh);
  for (int64_t m = m0; m < m1; ++m) {
    T* row = col + (m - m0) * ldc - k0;
    const T* image = x + n * s.h * s.w * cin;
    const int64_t iy0 = oy * s.stride - s.pad_h, ix0 = ox * s.stride - s.pad_w;
    for (int64_t tap = tap_first; tap <= tap_last; ++tap) {
      const int64_t c_lo = tap == tap_first ? k0 - tap * cin : 0;
      const int64_t c_hi = tap == tap_last ? k1 - tap * cin : cin;
      const int64_t iy = iy0 + (tap / s.kw) * d, ix = ix0 + (tap % s.kw) * d;
      T* dst = row + tap * cin + c_lo;
      if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) {
        std::memcpy(dst, image + (iy * s.w + ix) * cin + c_lo, (c_hi - c_lo) * sizeof(T));
      } else {
        std::memset(dst, 0, (c_hi - c_lo) * sizeof(T));
      }
    }
    if (++ox == s.ow) {
      ox = 0;
      if (++oy == s.oh) {
        oy = 0;
        ++n;
      }
    }
  }
}

// How the GEMM's right-hand side B [patch, cout] is stored.
enum class WeightLayout {
  // The convolution's own weight w [cout, KH, KW, cin]: B = w^T.
  forward,
  // The weight of the convolution this one transposes (backward-data), w [cin, KH, KW, cout]: B's tap block t is
  // w[:, taps-1-t, :], a [cin, cout] matrix with row stride taps*cout. Multiplying tap by tap saves flipping and
  // transposing w (37 MB for fc6).
  transposed_flipped,
};

// Workspace of forward_tiles for shape s, in elements of T.
template <typename T>
int64_t forward_tiles_workspace(const Conv2dShape& s);

// y [pixels, cout] = im2col(x) * B (+ bias, may be null), each thread taking whole tiles of output pixels.
template <typename T>
void forward_tiles(const Conv2dShape& s, const T* x, const T* w, WeightLayout layout, const T* bias, T* y,
                   T* workspace, int64_t workspace_elems);

}  // namespace atrous::kernels::conv2d_detail
