// Argmax over the last axis, CUDA: one thread per row, the first NaN wins as on the CPU.
#include "kernels/argmax.h"

#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

template <typename T>
__global__ void argmax_kernel(const T* __restrict__ x, int32_t* __restrict__ out, int64_t rows, int64_t cols) {
  ATROUS_GRID_STRIDE(r, rows) {
    const T* row = x + r * cols;
    T best = row[0];
    int32_t where = 0;
    for (int64_t c = 1; c < cols && best == best; ++c) {  // the first NaN wins and ends the search
      const T v = row[c];
      if (v > best || v != v) {
        best = v;
        where = static_cast<int32_t>(c);
      }
    }
    out[r] = where;
  }
}

}  // namespace

template <typename T> void argmax_last_axis(int device, const T* x, int32_t* out, int64_t rows, int64_t cols) {
  if (rows == 0) return;
  launch_1d("argmax_kernel", rows, device, argmax_kernel<T>, x, out, rows, cols);
}

template void argmax_last_axis<float>(int, const float*, int32_t*, int64_t, int64_t);
template void argmax_last_axis<double>(int, const double*, int32_t*, int64_t, int64_t);

}  // namespace atrous::kernels::cuda
