// Softmax and log-softmax over the last axis, CUDA: one warp per row (class counts are small, 21 to 150, and rows
// many), max-shifted exponentials.
#include "kernels/softmax.h"

#include "kernels/cuda/softmax_rows.cuh"

namespace atrous::kernels::cuda {
namespace {

template <typename T, bool kLog>
__global__ void softmax_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t cols) {
  const int lane = threadIdx.x & 31;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= rows) return;
  const T* in = x + r * cols;
  T* out = y + r * cols;
  T m, total;
  row_max_sum(in, cols, lane, m, total);
  if (kLog) {
    const T log_total = log(total);
    for (int64_t c = lane; c < cols; c += 32) out[c] = in[c] - m - log_total;
  } else {
    const T inv = T(1) / total;
    for (int64_t c = lane; c < cols; c += 32) out[c] = exp(in[c] - m) * inv;
  }
}

// softmax: dx = y * (dy - sum(dy * y)); log_softmax: dx = dy - exp(y) * sum(dy).
template <typename T, bool kLog>
__global__ void softmax_backward_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                                        int64_t rows, int64_t cols) {
  const int lane = threadIdx.x & 31;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= rows) return;
  const T* yr = y + r * cols;
  const T* gr = dy + r * cols;
  T* out = dx + r * cols;
  T dot = T(0);
  for (int64_t c = lane; c < cols; c += 32) dot += kLog ? gr[c] : gr[c] * yr[c];
  dot = warp_all_sum(dot);
  for (int64_t c = lane; c < cols; c += 32) out[c] = kLog ? gr[c] - exp(yr[c]) * dot : yr[c] * (gr[c] - dot);
}

}  // namespace

template <typename T> void softmax_forward(int device, const T* x, T* y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  launch("softmax_forward_kernel", row_blocks(rows), kThreads, 0, atrous::cuda::stream(device),
         softmax_forward_kernel<T, false>, x, y, rows, cols);
}
template <typename T> void log_softmax_forward(int device, const T* x, T* y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  launch("log_softmax_forward_kernel", row_blocks(rows), kThreads, 0, atrous::cuda::stream(device),
         softmax_forward_kernel<T, true>, x, y, rows, cols);
}
template <typename T> void softmax_backward(int device, const T* y, const T* dy, T* dx, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  launch("softmax_backward_kernel", row_blocks(rows), kThreads, 0, atrous::cuda::stream(device),
         softmax_backward_kernel<T, false>, y, dy, dx, rows, cols);
}
template <typename T>
void log_softmax_backward(int device, const T* y, const T* dy, T* dx, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  launch("log_softmax_backward_kernel", row_blocks(rows), kThreads, 0, atrous::cuda::stream(device),
         softmax_backward_kernel<T, true>, y, dy, dx, rows, cols);
}

#define ATROUS_INSTANTIATE(T)                                                                       \
  template void softmax_forward<T>(int, const T*, T*, int64_t, int64_t);                            \
  template void log_softmax_forward<T>(int, const T*, T*, int64_t, int64_t);                        \
  template void softmax_backward<T>(int, const T*, const T*, T*, int64_t, int64_t);                 \
  template void log_softmax_backward<T>(int, const T*, const T*, T*, int64_t, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)
#undef ATROUS_INSTANTIATE

}  // namespace atrous::kernels::cuda
