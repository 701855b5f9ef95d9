// What the softmax and the softmax cross-entropy kernels share: one warp per row, the row's max and sum of
// exponentials.
#pragma once
#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {

constexpr int kRowsPerBlock = kThreads / 32;

// Row max and sum of exp(x - max) of one row, every lane of the warp ends with both.
template <typename T>
__device__ inline void row_max_sum(const T* row, int64_t cols, int lane, T& m, T& total) {
  m = -INFINITY;
  for (int64_t c = lane; c < cols; c += 32) m = row[c] > m ? row[c] : m;
  m = warp_max(m);
  total = T(0);
  for (int64_t c = lane; c < cols; c += 32) total += exp(row[c] - m);
  total = warp_all_sum(total);
}

// Blocks of kRowsPerBlock warps covering `rows`.
inline unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace atrous::kernels::cuda
