// The fused softmax cross-entropy over the last axis, CUDA: one warp per pixel, and a two-stage fixed-order
// reduction of the loss so repeated runs give identical sums. The loss, its sums and the backward's scale stay on the
// device: a training step never waits for the host.
#include "kernels/cross_entropy.h"

#include <algorithm>

#include "kernels/cuda/softmax_rows.cuh"

namespace atrous::kernels::cuda {
namespace {

template <typename L> __device__ inline bool valid_label(L y, int64_t classes) {
  return static_cast<int64_t>(y) >= 0 && static_cast<int64_t>(y) < classes;
}

// One warp per pixel; each block writes its (loss, weight) partial sums and the lowest invalid pixel it saw.
template <typename T, typename L>
__global__ void xent_forward_kernel(const T* __restrict__ logits, const L* __restrict__ labels,
                                    const T* __restrict__ class_weights, T* __restrict__ row_stats,
                                    CrossEntropyShape s, double* __restrict__ partial_loss,
                                    double* __restrict__ partial_weight, long long* __restrict__ partial_invalid) {
  __shared__ double loss_sh[kRowsPerBlock], weight_sh[kRowsPerBlock];
  __shared__ long long invalid_sh[kRowsPerBlock];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  double loss = 0.0, weight = 0.0;
  long long invalid = s.pixels;
  // Grid-stride over groups of kRowsPerBlock pixels so that the partials' count is the grid size.
  for (int64_t p = int64_t(blockIdx.x) * kRowsPerBlock + warp; p < s.pixels; p += int64_t(gridDim.x) * kRowsPerBlock) {
    const L label = labels[p];
    const int64_t y = static_cast<int64_t>(label);
    if (y == s.ignore_index) continue;
    if (!valid_label(label, s.classes)) {
      invalid = invalid < p ? invalid : p;
      continue;
    }
    const T* x = logits + p * s.classes;
    T m, total;
    row_max_sum(x, s.classes, lane, m, total);
    if (lane == 0) {
      if (row_stats) {
        row_stats[2 * p] = m;
        row_stats[2 * p + 1] = T(1) / total;
      }
      const double w = class_weights ? static_cast<double>(class_weights[y]) : 1.0;
      loss += w * (static_cast<double>(log(total)) + static_cast<double>(m - x[y]));
      weight += w;
    }
  }
  if (lane == 0) {
    loss_sh[warp] = loss;
    weight_sh[warp] = weight;
    invalid_sh[warp] = invalid;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double l = 0.0, w = 0.0;
    long long inv = s.pixels;
    for (int i = 0; i < kRowsPerBlock; ++i) {
      l += loss_sh[i];
      w += weight_sh[i];
      inv = invalid_sh[i] < inv ? invalid_sh[i] : inv;
    }
    partial_loss[blockIdx.x] = l;
    partial_weight[blockIdx.x] = w;
    partial_invalid[blockIdx.x] = inv;
  }
}

// One block adds the partials in a fixed order: out = {loss, weight, first_invalid as double}; loss[0] = the mean.
template <typename T>
__global__ void xent_final_kernel(const double* __restrict__ partial_loss, const double* __restrict__ partial_weight,
                                  const long long* __restrict__ partial_invalid, int count, long long pixels,
                                  double* __restrict__ out, T* __restrict__ loss) {
  __shared__ double shared[32];
  __shared__ long long inv_sh[kThreads];
  double l = 0.0, w = 0.0;
  long long inv = pixels;
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    l += partial_loss[i];
    w += partial_weight[i];
    inv = partial_invalid[i] < inv ? partial_invalid[i] : inv;
  }
  inv_sh[threadIdx.x] = inv;
  l = block_sum(l, shared);
  if (threadIdx.x == 0) out[0] = l;
  w = block_sum(w, shared);
  if (threadIdx.x == 0) {
    out[1] = w;
    for (int i = 0; i < static_cast<int>(blockDim.x); ++i) inv = inv_sh[i] < inv ? inv_sh[i] : inv;
    out[2] = static_cast<double>(inv);
    // Every pixel ignored (or weights summing to 0): loss 0 and zero gradient, where PyTorch gives NaN.
    loss[0] = w != 0.0 ? static_cast<T>(l / w) : T(0);
  }
}

template <typename T, typename L>
__global__ void xent_backward_kernel(const T* __restrict__ logits, const L* __restrict__ labels,
                                     const T* __restrict__ class_weights, const T* __restrict__ row_stats,
                                     const T* __restrict__ grad_loss, const double* __restrict__ sums,
                                     T* __restrict__ dlogits, CrossEntropyShape s) {
  const T scale = sums[1] != 0.0 ? static_cast<T>(static_cast<double>(grad_loss[0]) / sums[1]) : T(0);
  ATROUS_GRID_STRIDE(i, s.pixels * s.classes) {
    const int64_t p = i / s.classes, k = i - p * s.classes;
    const L label = labels[p];
    const int64_t y = static_cast<int64_t>(label);
    if (y == s.ignore_index || !valid_label(label, s.classes)) {
      dlogits[i] = T(0);
      continue;
    }
    const T coef = class_weights ? scale * class_weights[y] : scale;
    const T value = coef * row_stats[2 * p + 1] * exp(logits[i] - row_stats[2 * p]);
    dlogits[i] = k == y ? value - coef : value;
  }
}

}  // namespace

template <typename T, typename L>
void softmax_cross_entropy_forward(int device, const T* logits, const L* labels, const T* class_weights, T* row_stats,
                                   const CrossEntropyShape& s, T* loss, double* sums) {
  cudaStream_t st = atrous::cuda::stream(device);
  const unsigned blocks = static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(row_blocks(s.pixels), 1024)));
  Scratch partials(blocks * (2 * sizeof(double) + sizeof(long long)), device);
  double* partial_loss = partials.as<double>();
  double* partial_weight = partial_loss + blocks;
  auto* partial_invalid = reinterpret_cast<long long*>(partial_weight + blocks);
  launch("xent_forward_kernel", blocks, kThreads, 0, st, xent_forward_kernel<T, L>, logits, labels, class_weights,
         row_stats, s, partial_loss, partial_weight, partial_invalid);
  launch("xent_final_kernel", 1, kThreads, 0, st, xent_final_kernel<T>, static_cast<const double*>(partial_loss),
         static_cast<const double*>(partial_weight), static_cast<const long long*>(partial_invalid),
         static_cast<int>(blocks), static_cast<long long>(s.pixels), sums, loss);
}

template <typename T, typename L>
void softmax_cross_entropy_backward(int device, const T* logits, const L* labels, const T* class_weights,
                                    const T* row_stats, const T* grad_loss, const double* sums, T* dlogits,
                                    const CrossEntropyShape& s) {
  const int64_t n = s.pixels * s.classes;
  if (n == 0) return;
  launch_1d("xent_backward_kernel", n, device, xent_backward_kernel<T, L>, logits, labels, class_weights, row_stats,
            grad_loss, sums, dlogits, s);
}

#define ATROUS_INSTANTIATE_XENT(T, L)                                                                                \
  template void softmax_cross_entropy_forward<T, L>(int, const T*, const L*, const T*, T*, const CrossEntropyShape&, \
                                                    T*, double*);                                                    \
  template void softmax_cross_entropy_backward<T, L>(int, const T*, const L*, const T*, const T*, const T*,          \
                                                     const double*, T*, const CrossEntropyShape&);
ATROUS_INSTANTIATE_XENT(float, int32_t)
ATROUS_INSTANTIATE_XENT(float, uint8_t)
ATROUS_INSTANTIATE_XENT(double, int32_t)
ATROUS_INSTANTIATE_XENT(double, uint8_t)
#undef ATROUS_INSTANTIATE_XENT

}  // namespace atrous::kernels::cuda
