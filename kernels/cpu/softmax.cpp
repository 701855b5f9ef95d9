// Softmax and log-softmax over the innermost axis, CPU, rows spread over OpenMP threads; float uses the vectorisable
// fast_exp (~2 ulp). Forwards on short rows (<= kMaxTileCols, e.g. 21 classes) go through transposed row tiles
// (row_tile.h), where per-row max and sum become vector operations across rows; long rows and the backwards (one
// cheap reduction each) vectorise well row by row, where the tiles' transposes would only add cost.
#include "kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/row_tile.h"

namespace atrous::kernels {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 14;

template <typename T>
T row_max(const T* x, int64_t cols) {
  T m = x[0];
#pragma omp simd reduction(max : m)
  for (int64_t k = 1; k < cols; ++k) m = x[k] > m ? x[k] : m;
  return m;
}

// Calls body(first_row, row_count, tile) for every group of kRowTile rows, with a per-thread tile buffer.
template <typename T, typename Body>
void for_each_row_tile(int64_t rows, int64_t cols, Body body) {
  const int64_t count = (rows + kRowTile - 1) / kRowTile;
#pragma omp parallel if (rows * cols > kParallelThreshold)
  {
    std::vector<T> tile(cols * kRowTile);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < count; ++b) {
      const int64_t r0 = b * kRowTile;
      body(r0, std::min(kRowTile, rows - r0), tile.data());
    }
  }
}

template <typename T>
void softmax_forward_tiles(const T* x, T* y, int64_t rows, int64_t cols) {
  for_each_row_tile<T>(rows, cols, [=](int64_t r0, int64_t n, T* tile) {
    load_row_tile(x + r0 * cols, n, cols, tile);
    T m[kRowTile], s[kRowTile] = {};
    tile_row_max(tile, cols, m);
    for (int64_t k = 0; k < cols; ++k) {
      T* __restrict__ t = tile + k * kRowTile;
#pragma omp simd
      for (int64_t r = 0; r < kRowTile; ++r) {
        t[r] = fast_exp(t[r] - m[r]);
        s[r] += t[r];
      }
    }
    for (int64_t r = 0; r < kRowTile; ++r) s[r] = T(1) / s[r];
    for (int64_t k = 0; k < cols; ++k) {
      T* __restrict__ t = tile + k * kRowTile;
#pragma omp simd
      for (int64_t r = 0; r < kRowTile; ++r) t[r] *= s[r];
    }
    store_row_tile(tile, n, cols, y + r0 * cols);
  });
}

template <typename T>
void log_softmax_forward_tiles(const T* x, T* y, int64_t rows, int64_t cols) {
  for_each_row_tile<T>(rows, cols, [=](int64_t r0, int64_t n, T* tile) {
    load_row_tile(x + r0 * cols, n, cols, tile);
    T m[kRowTile], s[kRowTile];
    tile_row_max(tile, cols, m);
    tile_row_sum_exp(tile, cols, m, s);
    for (int64_t r = 0; r < kRowTile; ++r) s[r] = std::log(s[r]);
    // (x - m) - log(sum) rather than x - (m + log(sum)): the latter loses the small terms next to a big m.
    for (int64_t k = 0; k < cols; ++k) {
      T* __restrict__ t = tile + k * kRowTile;
#pragma omp simd
      for (int64_t r = 0; r < kRowTile; ++r) t[r] = (t[r] - m[r]) - s[r];
    }
    store_row_tile(tile, n, cols, y + r0 * cols);
  });
}

template <typename T>
void softmax_forward_rows(const T* x, T* y, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ in = x + r * cols;
    T* __restrict__ out = y + r * cols;
    const T m = row_max(in, cols);
    T total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t k = 0; k < cols; ++k) {
      out[k] = fast_exp(in[k] - m);
      total += out[k];
    }
    const T inv = T(1) / total;
#pragma omp simd
    for (int64_t k = 0; k < cols; ++k) out[k] *= inv;
  }
}

template <typename T>
void log_softmax_forward_rows(const T* x, T* y, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ in = x + r * cols;
    T* __restrict__ out = y + r * cols;
    const T m = row_max(in, cols);
    T total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t k = 0; k < cols; ++k) total += fast_exp(in[k] - m);
    const T log_total = std::log(total);
#pragma omp simd
    for (int64_t k = 0; k < cols; ++k) out[k] = (in[k] - m) - log_total;
  }
}

}  // namespace

template <typename T>
void softmax_forward_cpu(const T* x, T* y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  if (cols <= kMaxTileCols) {
    softmax_forward_tiles(x, y, rows, cols);
  } else {
    softmax_forward_rows(x, y, rows, cols);
  }
}

template <typename T>
void log_softmax_forward_cpu(const T* x, T* y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  if (cols <= kMaxTileCols) {
    log_softmax_forward_tiles(x, y, rows, cols);
  } else {
    log_softmax_forward_rows(x, y, rows, cols);
  }
}

template <typename T>
void softmax_backward_cpu(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ p = y + r * cols;
    const T* __restrict__ g = dy + r * cols;
    T* __restrict__ out = dx + r * cols;
    T dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t k = 0; k < cols; ++k) dot += g[k] * p[k];
#pragma omp simd
    for (int64_t k = 0; k < cols; ++k) out[k] = p[k] * (g[k] - dot);
  }
}

template <typename T>
void log_softmax_backward_cpu(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict__ lp = y + r * cols;
    const T* __restrict__ g = dy + r * cols;
    T* __restrict__ out = dx + r * cols;
    T total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t k = 0; k < cols; ++k) total += g[k];
#pragma omp simd
    for (int64_t k = 0; k < cols; ++k) out[k] = g[k] - fast_exp(lp[k]) * total;
  }
}

#define ATROUS_INSTANTIATE(T)                                                       \
  template void softmax_forward_cpu<T>(const T*, T*, int64_t, int64_t);             \
  template void softmax_backward_cpu<T>(const T*, const T*, T*, int64_t, int64_t);  \
  template void log_softmax_forward_cpu<T>(const T*, T*, int64_t, int64_t);         \
  template void log_softmax_backward_cpu<T>(const T*, const T*, T*, int64_t, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
