// Convolution weight and bias gradients on the CPU: dw[Cout, K] = dy^T [Cout, pixels] * im2col(x) [pixels, K].
// Each thread owns a contiguous range of the K patch columns of dw (no reduction, no races) and walks it in chunks of
// up to 2304 columns; each chunk accumulates over short tiles of pixels whose im2col fits in L2, multiplying only
// the taps that are inside the input for the whole tile (the others contribute zeros).
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
  int parts = 1;             // K is split into this many equal ranges, one per thread
  int64_t chunk = 0;         // columns per chunk within a range
  int64_t max_tile = 0;      // pixels per tile
  int64_t columns_per_part = 0;  // im2col buffer
  int64_t outputs_per_part = 0;  // dy rows of tiles that are not consecutive in dy
};

template <typename T>
WeightPlan weight_plan(const Conv2dShape& s) {
  WeightPlan plan;
  plan.parts = plan_threads(s);
  const int64_t range = std::max<int64_t>(1, ceil_div(s.patch(), plan.parts));
  plan.chunk = ceil_div(range, ceil_div(range, kMaxChunkColumns));  // equal chunks
  const int64_t budget = kWeightBudgetBytes / int64_t(sizeof(T));
  plan.max_tile = std::max(budget / plan.chunk, kMinWeightTilePixels);
  if (!s.is_pointwise()) plan.columns_per_part = plan.chunk * plan.max_tile;
  plan.outputs_per_part = plan.max_tile * s.cout;
  return plan;
}

// Column ranges of [k0, k1) that the tile's valid taps cover: one per kernel row, or one when rows are whole.
int valid_pieces(const Conv2dShape& s, const Tile& t, int64_t k0, int64_t k1, int64_t (*pieces)[2], int max_pieces) {
  const int64_t cin = s.cin;
  int count = 0;
  auto add = [&](int64_t lo, int64_t hi) {
    lo = std::max(lo, k0);
    hi = std::min(hi, k1);
    if (hi > lo && count < max_pieces) {
      pieces[count][0] = lo;
      pieces[count][1] = hi;
      ++count;
    }
  };
  if (t.taps() == 0) return 0;
  if (t.kw_hi - t.kw_lo == s.kw) {
    add(t.kh_lo * s.kw * cin, t.kh_hi * s.kw * cin);
  } else {
    for (int64_t kh = t.kh_lo; kh < t.kh_hi; ++kh) add((kh * s.kw + t.kw_lo) * cin, (kh * s.kw + t.kw_hi) * cin);
  }
  return count;
}

// dw[:, k0:k1) += dy_tile^T * im2col(tile)[:, k0:k1), over the tile's valid columns only.
template <typename T>
void accumulate_tile(const Conv2dShape& s, const Tile& t, int64_t k0, int64_t k1, const T* dy, const T* x, T* dw,
                     T* col, T* dy_rows) {
  constexpr int kMaxPieces = 64;  // kernel rows per tile; taller kernels fall back to several passes below
  int64_t pieces[kMaxPieces][2];
  const int64_t rows = t.pixels(), cout = s.cout, patch = s.patch();
  for (int64_t start = k0; start < k1;) {
    const int count = valid_pieces(s, t, start, k1, pieces, kMaxPieces);
    if (count == 0) return;
    const T* a = dy + t.first_pixel(s) * cout;
    if (!t.consecutive(s)) {
      gather_tile_rows(s, t, dy, cout, dy_rows);
      a = dy_rows;
    }
    int64_t width = 0;
    for (int i = 0; i < count; ++i) width += pieces[i][1] - pieces[i][0];
    int64_t offset = 0;
    for (int i = 0; i < count; ++i) {
      const int64_t lo = pieces[i][0], hi = pieces[i][1];
      const T* b = x + t.first_pixel(s) * s.cin + lo;  // pointwise: x is the im2col matrix
      int64_t ldb = s.cin;
      if (!(s.is_pointwise() && t.consecutive(s))) {
        im2col_columns(s, x, t, lo, hi, col + offset, width);
        b = col + offset;
        ldb = width;
      }
      gemm<T>(Transpose::yes, Transpose::no, cout, hi - lo, rows, T(1), a, cout, b, ldb, T(1), dw + lo, patch);
      offset += hi - lo;
    }
    start = pieces[count - 1][1];
  }
}

}  // namespace

template <typename T>
int64_t conv2d_backward_weight_workspace_cpu(const Conv2dShape& s) {
  const WeightPlan plan = weight_plan<T>(s);
  return plan.parts * (plan.columns_per_part + plan.outputs_per_part);
}

template <typename T>
void conv2d_backward_weight_cpu(const Conv2dShape& s, const T* dy, const T* x, T* dw, T* workspace,
                                int64_t workspace_elems) {
  const WeightPlan plan = weight_plan<T>(s);
  const int64_t per_part = plan.columns_per_part + plan.outputs_per_part;
  ATROUS_CHECK(workspace_elems >= plan.parts * per_part, "conv2d backward-weight: workspace of ", workspace_elems,
               " elements is smaller than the ", plan.parts * per_part, " needed");
  const int64_t patch = s.patch(), cout = s.cout;
  const std::vector<Tile> tiles = plan_tiles(s, plan.max_tile, 1);  // threads split columns, not tiles
#pragma omp parallel num_threads(plan.parts)
  {
    // Loop over parts rather than trusting the team size: a nested call may get fewer threads than planned.
    for (int64_t part = omp_get_thread_num(); part < plan.parts; part += omp_get_num_threads()) {
      T* col = workspace + part * per_part;
      T* dy_rows = col + plan.columns_per_part;
      const int64_t k_begin = patch * part / plan.parts, k_end = patch * (part + 1) / plan.parts;
      // Taps that see only padding for some pixels are skipped there, so start from zero and accumulate.
      for (int64_t co = 0; co < cout; ++co) std::fill(dw + co * patch + k_begin, dw + co * patch + k_end, T(0));
      for (int64_t k0 = k_begin; k0 < k_end; k0 += plan.chunk) {
        const int64_t k1 = std::min(k_end, k0 + plan.chunk);
        for (const Tile& t : tiles) accumulate_tile(s, t, k0, k1, dy, x, dw, col, dy_rows);
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
