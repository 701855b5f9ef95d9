// Batch norm on NHWC data seen as [rows, C], CUDA (Ioffe & Szegedy 2015, Algorithm 1 and its backward). Statistics
// are two-stage: blocks of 32 channels x 8 row-lanes add a fixed slice of rows into double partial sums (around a
// per-channel shift in the forward, as the CPU kernel does, so a large mean costs no precision), then one thread per
// channel adds the partials in order: deterministic, no atomics. The elementwise passes are plain grid-stride loops.
#include "kernels/batch_norm.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

constexpr int kChannelsPerBlock = 32;
constexpr int kRowLanes = 8;
constexpr int64_t kMinRowsPerSplit = 64;

// partial[split][0..C) += sum a, partial[split][C..2C) += sum a*b over the split's rows, where
// forward:  a = x - shift, b = a          (shift = the first row of x)
// backward: a = dy,        b = x - mean
template <typename T, bool kBackward>
__global__ void channel_sums_kernel(const T* __restrict__ x, const T* __restrict__ dy, const T* __restrict__ mean,
                                    int64_t rows, int64_t C, int64_t rows_per_split, double* __restrict__ partial) {
  __shared__ double sum_a[kRowLanes][kChannelsPerBlock], sum_ab[kRowLanes][kChannelsPerBlock];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = int64_t(blockIdx.x) * kChannelsPerBlock + tx;
  const int64_t begin = int64_t(blockIdx.y) * rows_per_split;
  const int64_t end = begin + rows_per_split < rows ? begin + rows_per_split : rows;
  double a_acc = 0.0, ab_acc = 0.0;
  if (c < C) {
    const double centre = kBackward ? static_cast<double>(mean[c]) : static_cast<double>(x[c]);
    for (int64_t r = begin + ty; r < end; r += kRowLanes) {
      const double xm = static_cast<double>(x[r * C + c]) - centre;
      const double a = kBackward ? static_cast<double>(dy[r * C + c]) : xm;
      a_acc += a;
      ab_acc += a * xm;
    }
  }
  sum_a[ty][tx] = a_acc;
  sum_ab[ty][tx] = ab_acc;
  __syncthreads();
  if (ty == 0 && c < C) {
    for (int k = 1; k < kRowLanes; ++k) {
      a_acc += sum_a[k][tx];
      ab_acc += sum_ab[k][tx];
    }
    partial[blockIdx.y * 2 * C + c] = a_acc;
    partial[blockIdx.y * 2 * C + C + c] = ab_acc;
  }
}

// Adds the partials of channel c in split order.
__device__ inline void total_sums(const double* partial, int64_t splits, int64_t C, int64_t c, double& a, double& ab) {
  a = 0.0;
  ab = 0.0;
  for (int64_t k = 0; k < splits; ++k) {
    a += partial[k * 2 * C + c];
    ab += partial[k * 2 * C + C + c];
  }
}

template <typename T>
__global__ void forward_stats_kernel(const T* __restrict__ x, const double* __restrict__ partial, int64_t splits,
                                     int64_t rows, int64_t C, double eps, double momentum, T* __restrict__ save_mean,
                                     T* __restrict__ save_invstd, T* __restrict__ running_mean,
                                     T* __restrict__ running_var) {
  ATROUS_GRID_STRIDE(c, C) {
    double sum, sum_sq;
    total_sums(partial, splits, C, c, sum, sum_sq);
    const double m = static_cast<double>(rows);
    const double d_mean = sum / m;
    double var = sum_sq / m - d_mean * d_mean;
    var = var > 0.0 ? var : 0.0;
    const double mean = static_cast<double>(x[c]) + d_mean;
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(1.0 / sqrt(var + eps));
    if (running_mean) {
      const double unbiased = var * m / (m - 1.0);
      running_mean[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) + momentum * mean);
      running_var[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[c]) + momentum * unbiased);
    }
  }
}

template <typename T>
__global__ void invstd_kernel(const T* __restrict__ var, int64_t C, double eps, T* __restrict__ invstd) {
  ATROUS_GRID_STRIDE(c, C) invstd[c] = static_cast<T>(1.0 / sqrt(static_cast<double>(var[c]) + eps));
}

template <typename T>
__global__ void apply_kernel(const T* __restrict__ x, const T* __restrict__ mean, const T* __restrict__ invstd,
                             const T* __restrict__ weight, const T* __restrict__ bias, int64_t rows, int64_t C,
                             T* __restrict__ y) {
  ATROUS_GRID_STRIDE(i, rows * C) {
    const int64_t c = i % C;
    const T scale = invstd[c] * (weight ? weight[c] : T(1));
    y[i] = (x[i] - mean[c]) * scale + (bias ? bias[c] : T(0));
  }
}

// float4 twins of apply_kernel / backward_dx_kernel for f32 with C % 4 == 0 and 16-byte aligned arrays: one
// 16-byte load per input per thread instead of four 4-byte ones; the four channels c0..c0+3 never wrap.
__global__ void apply_kernel_f4(const float4* __restrict__ x, const float* __restrict__ mean,
                                const float* __restrict__ invstd, const float* __restrict__ weight,
                                const float* __restrict__ bias, int64_t n4, int64_t C, float4* __restrict__ y) {
  ATROUS_GRID_STRIDE(i, n4) {
    const int64_t c0 = (4 * i) % C;
    const float4 v = x[i];
    float r[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t c = c0 + j;
      r[j] = (r[j] - mean[c]) * (invstd[c] * (weight ? weight[c] : 1.0f)) + (bias ? bias[c] : 0.0f);
    }
    y[i] = make_float4(r[0], r[1], r[2], r[3]);
  }
}

__global__ void backward_dx_kernel_f4(const float4* __restrict__ dy, const float4* __restrict__ x,
                                      const float* __restrict__ mean, const float* __restrict__ coef, bool batch_stats,
                                      int64_t n4, int64_t C, float4* __restrict__ dx) {
  ATROUS_GRID_STRIDE(i, n4) {
    const int64_t c0 = (4 * i) % C;
    const float4 g4 = dy[i], x4 = batch_stats ? x[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);  // x: null otherwise
    const float g[4] = {g4.x, g4.y, g4.z, g4.w}, xv[4] = {x4.x, x4.y, x4.z, x4.w};
    float r[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t c = c0 + j;
      r[j] = batch_stats ? (g[j] - coef[C + c] - (xv[j] - mean[c]) * coef[2 * C + c]) * coef[c] : g[j] * coef[c];
    }
    dx[i] = make_float4(r[0], r[1], r[2], r[3]);
  }
}

template <typename T> bool vectorisable(int64_t C, const void* a, const void* b, const void* c = nullptr) {
  auto aligned = [](const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return std::is_same<T, float>::value && C % 4 == 0 && aligned(a) && aligned(b) && aligned(c);
}

// coef = [gain | centre | slope] per channel, as batch_norm_backward_cpu computes them; dweight and dbias too.
template <typename T>
__global__ void backward_coefficients_kernel(const double* __restrict__ partial, int64_t splits, int64_t rows,
                                             int64_t C, const T* __restrict__ weight, const T* __restrict__ invstd,
                                             bool batch_stats, T* __restrict__ coef, T* __restrict__ dweight,
                                             T* __restrict__ dbias) {
  ATROUS_GRID_STRIDE(c, C) {
    double sum_dy = 0.0, sum_dy_xmu = 0.0;
    if (partial) total_sums(partial, splits, C, c, sum_dy, sum_dy_xmu);
    const double is = static_cast<double>(invstd[c]);
    if (dweight) dweight[c] = static_cast<T>(sum_dy_xmu * is);
    if (dbias) dbias[c] = static_cast<T>(sum_dy);
    coef[c] = static_cast<T>(is * (weight ? static_cast<double>(weight[c]) : 1.0));
    coef[C + c] = batch_stats ? static_cast<T>(sum_dy / static_cast<double>(rows)) : T(0);
    coef[2 * C + c] = batch_stats ? static_cast<T>(is * is * sum_dy_xmu / static_cast<double>(rows)) : T(0);
  }
}

template <typename T>
__global__ void backward_dx_kernel(const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ mean,
                                   const T* __restrict__ coef, bool batch_stats, int64_t rows, int64_t C,
                                   T* __restrict__ dx) {
  ATROUS_GRID_STRIDE(i, rows * C) {
    const int64_t c = i % C;
    dx[i] = batch_stats ? (dy[i] - coef[C + c] - (x[i] - mean[c]) * coef[2 * C + c]) * coef[c] : dy[i] * coef[c];
  }
}

// Enough row splits to fill the device several times over, each at least kMinRowsPerSplit rows.
int64_t row_splits(BatchNormShape s) {
  const int64_t channel_blocks = (s.channels + kChannelsPerBlock - 1) / kChannelsPerBlock;
  const int64_t wanted = std::max<int64_t>(1, 1024 / channel_blocks);
  const int64_t most = std::max<int64_t>(1, s.rows / kMinRowsPerSplit);
  return std::max<int64_t>(1, std::min<int64_t>({wanted, most, 65535}));
}

template <typename T, bool kBackward>
void channel_sums(int device, const T* x, const T* dy, const T* mean, BatchNormShape s, int64_t splits,
                  double* partial) {
  const int64_t rows_per_split = (s.rows + splits - 1) / splits;
  const dim3 grid(static_cast<unsigned>((s.channels + kChannelsPerBlock - 1) / kChannelsPerBlock),
                  static_cast<unsigned>(splits));
  const dim3 block(kChannelsPerBlock, kRowLanes);
  launch("batch_norm channel_sums_kernel", grid, block, 0, atrous::cuda::stream(device),
         channel_sums_kernel<T, kBackward>, x, dy, mean, s.rows, s.channels, rows_per_split, partial);
}

}  // namespace

template <typename T>
void batch_norm_train_forward(int device, const T* x, const T* weight, const T* bias, BatchNormShape s, double eps,
                              double momentum, T* y, T* save_mean, T* save_invstd, T* running_mean, T* running_var) {
  if (s.channels == 0) return;
  cudaStream_t st = atrous::cuda::stream(device);
  const int64_t splits = row_splits(s);
  Scratch partial(static_cast<size_t>(splits) * 2 * s.channels * sizeof(double), device);
  channel_sums<T, false>(device, x, nullptr, nullptr, s, splits, partial.as<double>());
  launch("batch_norm forward_stats_kernel", atrous::cuda::grid_for(s.channels, kThreads), kThreads, 0, st,
         forward_stats_kernel<T>, x, partial.as<double>(), splits, s.rows, s.channels, eps, momentum, save_mean,
         save_invstd, running_mean, running_var);
  batch_norm_apply(device, x, save_mean, save_invstd, weight, bias, s, y);
}

template <typename T> void batch_norm_invstd(int device, const T* var, int64_t channels, double eps, T* invstd) {
  if (channels == 0) return;
  launch_1d("batch_norm invstd_kernel", channels, device, invstd_kernel<T>, var, channels, eps, invstd);
}

template <typename T>
void batch_norm_apply(int device, const T* x, const T* mean, const T* invstd, const T* weight, const T* bias,
                      BatchNormShape s, T* y) {
  const int64_t n = s.rows * s.channels;
  if (n == 0) return;
  if constexpr (std::is_same<T, float>::value) {
    if (vectorisable<T>(s.channels, x, y)) {
      launch_1d("batch_norm apply_kernel_f4", n / 4, device, apply_kernel_f4, reinterpret_cast<const float4*>(x), mean,
                invstd, weight, bias, n / 4, s.channels, reinterpret_cast<float4*>(y));
      return;
    }
  }
  launch_1d("batch_norm apply_kernel", n, device, apply_kernel<T>, x, mean, invstd, weight, bias, s.rows, s.channels,
            y);
}

template <typename T>
void batch_norm_backward(int device, const T* dy, const T* x, const T* weight, const T* mean, const T* invstd,
                         BatchNormShape s, bool batch_stats, T* dx, T* dweight, T* dbias) {
  if (s.channels == 0) return;
  cudaStream_t st = atrous::cuda::stream(device);
  const bool need_sums = dweight || dbias || (dx && batch_stats);
  const int64_t splits = row_splits(s);
  Scratch partial(need_sums ? static_cast<size_t>(splits) * 2 * s.channels * sizeof(double) : 0, device);
  if (need_sums) channel_sums<T, true>(device, x, dy, mean, s, splits, partial.as<double>());
  Scratch coef(3 * s.channels * sizeof(T), device);
  launch("batch_norm backward_coefficients_kernel", atrous::cuda::grid_for(s.channels, kThreads), kThreads, 0, st,
         backward_coefficients_kernel<T>, need_sums ? partial.as<double>() : nullptr, splits, s.rows, s.channels,
         weight, invstd, batch_stats, coef.as<T>(), dweight, dbias);
  if (!dx || s.rows == 0) return;
  const int64_t n = s.rows * s.channels;
  if constexpr (std::is_same<T, float>::value) {
    if (vectorisable<T>(s.channels, dy, x, dx)) {
      launch("batch_norm backward_dx_kernel_f4", atrous::cuda::grid_for(n / 4, kThreads), kThreads, 0, st,
             backward_dx_kernel_f4, reinterpret_cast<const float4*>(dy), reinterpret_cast<const float4*>(x), mean,
             coef.as<T>(), batch_stats, n / 4, s.channels, reinterpret_cast<float4*>(dx));
      return;
    }
  }
  launch("batch_norm backward_dx_kernel", atrous::cuda::grid_for(n, kThreads), kThreads, 0, st, backward_dx_kernel<T>,
         dy, x, mean, coef.as<T>(), batch_stats, s.rows, s.channels, dx);
}

#define ATROUS_INSTANTIATE(T)                                                                                      \
  template void batch_norm_train_forward<T>(int, const T*, const T*, const T*, BatchNormShape, double, double, T*, \
                                            T*, T*, T*, T*);                                                       \
  template void batch_norm_invstd<T>(int, const T*, int64_t, double, T*);                                          \
  template void batch_norm_apply<T>(int, const T*, const T*, const T*, const T*, const T*, BatchNormShape, T*);    \
  template void batch_norm_backward<T>(int, const T*, const T*, const T*, const T*, const T*, BatchNormShape, bool, \
                                       T*, T*, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)
#undef ATROUS_INSTANTIATE

}  // namespace atrous::kernels::cuda
