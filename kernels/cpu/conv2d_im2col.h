// Internal to the CPU conv kernels: tiling of the output into rectangles over which the set of in-bounds kernel taps
// is constant (so taps that only ever sample zero padding are skipped, not multiplied: 35% of fc6's multiply-adds
// at 41x41, rate 12), and im2col of such a tile. Patch column k = (kh*KW + kw)*Cin + c holds
// x[n, oy*s - pad_h + kh*d, ox*s - pad_w + kw*d, c].
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

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

// Below this many multiply-adds one thread is faster than waking a second; it also keeps thousands of tiny calls
// (gradient checks) from waiting at barriers for a thread the OS has parked on a busy shared machine.
constexpr double kMinParallelMultiplyAdds = 1 << 20;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline int plan_threads(const Conv2dShape& s) {
  const double work = double(s.pixels()) * double(s.patch()) * double(s.cout);
  return work < kMinParallelMultiplyAdds ? 1 : std::max(1, omp_get_max_threads());
}

// Pixels per tile such that a [tile, columns] buffer of T fits the per-thread budget.
template <typename T>
int64_t budget_tile_pixels(int64_t columns) {
  const int64_t fit = kColumnBudgetBytes / (std::max<int64_t>(1, columns) * int64_t(sizeof(T)));
  return std::clamp(fit, kMinTilePixels, kMaxTilePixels);
}

// A rectangle of output pixels of one image, [oy0, oy1) x [ox0, ox1), all of whose pixels have exactly the kernel
// taps [kh_lo, kh_hi) x [kw_lo, kw_hi) inside the input (the ranges may be empty: such pixels see only padding).
struct Tile {
  int64_t n = 0, oy0 = 0, oy1 = 0, ox0 = 0, ox1 = 0;
  int64_t kh_lo = 0, kh_hi = 0, kw_lo = 0, kw_hi = 0;

  int64_t width() const { return ox1 - ox0; }
  int64_t pixels() const { return (oy1 - oy0) * (ox1 - ox0); }
  int64_t taps() const { return std::max<int64_t>(0, kh_hi - kh_lo) * std::max<int64_t>(0, kw_hi - kw_lo); }
  // Its pixels are consecutive rows of the [pixels, *] matrices (x for 1x1, y, dy) when it spans whole rows or one.
  bool consecutive(const Conv2dShape& s) const { return (ox0 == 0 && ox1 == s.ow) || oy1 - oy0 == 1; }
  // First pixel's row in the [N*OH*OW, *] output matrix.
  int64_t first_pixel(const Conv2dShape& s) const { return (n * s.oh + oy0) * s.ow + ox0; }
};

// One row of the epilogue with its steps fixed at compile time, so that each combination is one plain vectorised loop.
template <bool kNormalize, bool kResidual, bool kRelu, typename T>
void epilogue_row(const ConvEpilogue<T>& e, int64_t cout, const T* __restrict__ residual, T* __restrict__ row) {
  const T* __restrict__ mean = e.mean;
  const T* __restrict__ scale = e.scale;
  const T* __restrict__ offset = e.offset;
#pragma omp simd
  for (int64_t c = 0; c < cout; ++c) {
    T v = row[c];
    if constexpr (kNormalize) v = (v - mean[c]) * scale[c] + offset[c];
    if constexpr (kResidual) v += residual[c];
    if constexpr (kRelu) v = v > T(0) ? v : T(0);
    row[c] = v;
  }
}

template <bool kNormalize, bool kResidual, bool kRelu, typename T>
void epilogue_rows(const ConvEpilogue<T>& e, int64_t rows, int64_t cout, const T* residual, T* out) {
  for (int64_t r = 0; r < rows; ++r)
    epilogue_row<kNormalize, kResidual, kRelu>(e, cout, kResidual ? residual + r * cout : nullptr, out + r * cout);
}

// The epilogue on `rows` rows of cout values, which are the consecutive output pixels from first_pixel on (the row
// of the [N*OH*OW, cout] output matrix, where the residual's rows are read).
template <typename T>
void apply_epilogue(const ConvEpilogue<T>& e, int64_t rows, int64_t cout, T* out, int64_t first_pixel) {
  if (e.bias) {
    const T* __restrict__ bias = e.bias;
    for (int64_t r = 0; r < rows; ++r) {
      T* __restrict__ row = out + r * cout;
#pragma omp simd
      for (int64_t c = 0; c < cout; ++c) row[c] += bias[c];
    }
  }
  const T* residual = e.residual ? e.residual + first_pixel * cout : nullptr;
  const int steps = (e.scale ? 4 : 0) | (residual ? 2 : 0) | (e.relu ? 1 : 0);
  switch (steps) {
    case 0: break;
    case 1: epilogue_rows<false, false, true>(e, rows, cout, residual, out); break;
    case 2: epilogue_rows<false, true, false>(e, rows, cout, residual, out); break;
    case 3: epilogue_rows<false, true, true>(e, rows, cout, residual, out); break;
    case 4: epilogue_rows<true, false, false>(e, rows, cout, residual, out); break;
    case 5: epilogue_rows<true, false, true>(e, rows, cout, residual, out); break;
    case 6: epilogue_rows<true, true, false>(e, rows, cout, residual, out); break;
    default: epilogue_rows<true, true, true>(e, rows, cout, residual, out); break;
  }
}

// Tiles covering every output pixel, each at most max_pixels, largest work first (so that dynamic scheduling over
// `threads` ends balanced). Along each axis the valid tap range changes only near the borders, so there are few
// distinct ranges.
std::vector<Tile> plan_tiles(const Conv2dShape& s, int64_t max_pixels, int threads);

// col[p][j] = patch column k0 + j of the tile's p-th pixel (row-major over the rectangle), for columns [k0, k1) that
// the tile's tap ranges mark valid; col rows are ldc apart.
template <typename T>
void im2col_columns(const Conv2dShape& s, const T* __restrict__ x, const Tile& t, int64_t k0, int64_t k1,
                    T* __restrict__ col, int64_t ldc) {
  if (k1 <= k0) return;
  const int64_t cin = s.cin, d = s.dilation;
  const T* image = x + t.n * s.h * s.w * cin;
  int64_t p = 0;
  for (int64_t oy = t.oy0; oy < t.oy1; ++oy) {
    for (int64_t ox = t.ox0; ox < t.ox1; ++ox, ++p) {
      T* row = col + p * ldc - k0;
      const int64_t iy0 = oy * s.stride - s.pad_h, ix0 = ox * s.stride - s.pad_w;
      // One kernel row at a time: with dilation 1 its taps are adjacent input pixels, one copy.
      for (int64_t k = k0; k < k1;) {
        const int64_t kh = k / (s.kw * cin), row_end = std::min(k1, (kh + 1) * s.kw * cin);
        const T* src_row = image + (iy0 + kh * d) * s.w * cin;
        if (d == 1) {
          std::memcpy(row + k, src_row + ix0 * cin + (k - kh * s.kw * cin), (row_end - k) * sizeof(T));
          k = row_end;
          continue;
        }
        while (k < row_end) {
          const int64_t kw = (k / cin) % s.kw, c = k % cin, end = std::min(row_end, k - c + cin);
          std::memcpy(row + k, src_row + (ix0 + kw * d) * cin + c, (end - k) * sizeof(T));
          k = end;
        }
      }
    }
  }
}

// Copies a tile's rows of a [N*OH*OW, cols] matrix into a dense [pixels, cols] buffer, and back.
template <typename T>
void gather_tile_rows(const Conv2dShape& s, const Tile& t, const T* __restrict__ matrix, int64_t cols,
                      T* __restrict__ dense) {
  for (int64_t oy = t.oy0; oy < t.oy1; ++oy)
    std::memcpy(dense + (oy - t.oy0) * t.width() * cols, matrix + ((t.n * s.oh + oy) * s.ow + t.ox0) * cols,
                t.width() * cols * sizeof(T));
}
template <typename T>
void scatter_tile_rows(const Conv2dShape& s, const Tile& t, const T* __restrict__ dense, int64_t cols,
                       T* __restrict__ matrix) {
  for (int64_t oy = t.oy0; oy < t.oy1; ++oy)
    std::memcpy(matrix + ((t.n * s.oh + oy) * s.ow + t.ox0) * cols, dense + (oy - t.oy0) * t.width() * cols,
                t.width() * cols * sizeof(T));
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

// y [pixels, cout] = epilogue(im2col(x) * B), each thread taking whole tiles of output pixels.
template <typename T>
void forward_tiles(const Conv2dShape& s, const T* x, const T* w, WeightLayout layout, const ConvEpilogue<T>& epilogue,
                   T* y, T* workspace, int64_t workspace_elems);

}  // namespace atrous::kernels::conv2d_detail
