// The column copies concat and split along the last axis are made of, CUDA.
#include "kernels/concat.h"

#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

template <typename T>
__global__ void copy_columns_kernel(const T* __restrict__ src, int64_t src_cols, int64_t src_offset,
                                    T* __restrict__ dst, int64_t dst_cols, int64_t dst_offset, int64_t rows,
                                    int64_t width) {
  ATROUS_GRID_STRIDE(i, rows * width) {
    const int64_t r = i / width, c = i - r * width;
    dst[r * dst_cols + dst_offset + c] = src[r * src_cols + src_offset + c];
  }
}

}  // namespace

template <typename T>
void copy_columns(int device, const T* src, int64_t src_cols, int64_t src_offset, T* dst, int64_t dst_cols,
                  int64_t dst_offset, int64_t rows, int64_t width) {
  if (rows * width == 0) return;
  launch_1d("copy_columns_kernel", rows * width, device, copy_columns_kernel<T>, src, src_cols, src_offset, dst,
            dst_cols, dst_offset, rows, width);
}

template void copy_columns<float>(int, const float*, int64_t, int64_t, float*, int64_t, int64_t, int64_t, int64_t);
template void copy_columns<double>(int, const double*, int64_t, int64_t, double*, int64_t, int64_t, int64_t, int64_t);
template void copy_columns<int32_t>(int, const int32_t*, int64_t, int64_t, int32_t*, int64_t, int64_t, int64_t,
                                    int64_t);
template void copy_columns<uint8_t>(int, const uint8_t*, int64_t, int64_t, uint8_t*, int64_t, int64_t, int64_t,
                                    int64_t);

}  // namespace atrous::kernels::cuda
