// Depthwise convolution on CUDA, direct. Forward and backward-data: one thread per output (input) element, so a
// warp covers consecutive channels of one pixel and its loads are coalesced. Backward-weight: 32 channels x 8
// pixel lanes per block, each block summing one tap over one slice of the pixels, slices added in a fixed order
// (deterministic, like conv2d's bias gradient).
#include <algorithm>
#include <climits>

#include "kernels/cuda/common.cuh"
#include "kernels/depthwise_conv2d.h"

namespace atrous::kernels::cuda {
namespace {

template <typename T>
__global__ void depthwise_forward_kernel(Conv2dShape s, const T* __restrict__ x, const T* __restrict__ w,
                                         const T* __restrict__ bias, T* __restrict__ y) {
  const int64_t m = s.cout / s.cin, taps = s.kh * s.kw;
  ATROUS_GRID_STRIDE(i, s.n * s.oh * s.ow * s.cout) {  // (Conv2dShape's helpers are host-only)
    const int64_t co = i % s.cout, pixel = i / s.cout;
    const int64_t ow = pixel % s.ow, oh = (pixel / s.ow) % s.oh, n = pixel / (s.ow * s.oh);
    const int64_t c = co / m;
    T acc = bias ? bias[co] : T(0);
    for (int64_t kh = 0; kh < s.kh; ++kh) {
      const int64_t ih = oh * s.stride - s.pad_h + kh * s.dilation;
      if (ih < 0 || ih >= s.h) continue;
      for (int64_t kw = 0; kw < s.kw; ++kw) {
        const int64_t iw = ow * s.stride - s.pad_w + kw * s.dilation;
        if (iw < 0 || iw >= s.w) continue;
        acc += x[((n * s.h + ih) * s.w + iw) * s.cin + c] * w[co * taps + kh * s.kw + kw];
      }
    }
    y[i] = acc;
  }
}

// The output position that tap k of input position i came from, or -1.
__device__ inline int64_t source_position(int64_t i, int64_t k, int64_t pad, int64_t stride, int64_t dilation,
                                          int64_t out_size) {
  const int64_t num = i + pad - k * dilation;
  if (num < 0 || num % stride != 0) return -1;
  const int64_t o = num / stride;
  return o < out_size ? o : -1;
}

template <typename T>
__global__ void depthwise_backward_data_kernel(Conv2dShape s, const T* __restrict__ dy, const T* __restrict__ w,
                                               T* __restrict__ dx) {
  const int64_t m = s.cout / s.cin, taps = s.kh * s.kw;
  ATROUS_GRID_STRIDE(i, s.n * s.h * s.w * s.cin) {
    const int64_t c = i % s.cin, pixel = i / s.cin;
    const int64_t iw = pixel % s.w, ih = (pixel / s.w) % s.h, n = pixel / (s.w * s.h);
    T acc = T(0);
    for (int64_t kh = 0; kh < s.kh; ++kh) {
      const int64_t oh = source_position(ih, kh, s.pad_h, s.stride, s.dilation, s.oh);
      if (oh < 0) continue;
      for (int64_t kw = 0; kw < s.kw; ++kw) {
        const int64_t ow = source_position(iw, kw, s.pad_w, s.stride, s.dilation, s.ow);
        if (ow < 0) continue;
        const T* g = dy + ((n * s.oh + oh) * s.ow + ow) * s.cout + c * m;
        for (int64_t j = 0; j < m; ++j) acc += g[j] * w[(c * m + j) * taps + kh * s.kw + kw];
      }
    }
    dx[i] = acc;
  }
}

// partial[slice][co * taps + tap] = sum over the slice's output pixels of dy[pixel, co] * x[its tap's input, co/m].
template <typename T>
__global__ void depthwise_weight_partials_kernel(Conv2dShape s, const T* __restrict__ dy, const T* __restrict__ x,
                                                 int64_t pixels_per_slice, T* __restrict__ partial) {
  __shared__ T sums[8][32];
  const int64_t m = s.cout / s.cin, taps = s.kh * s.kw;
  const int64_t co = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t tap = blockIdx.y, kh = tap / s.kw, kw = tap % s.kw;
  const int64_t begin = int64_t(blockIdx.z) * pixels_per_slice;
  const int64_t pixels = s.n * s.oh * s.ow;
  const int64_t end = begin + pixels_per_slice < pixels ? begin + pixels_per_slice : pixels;
  T acc = T(0);
  if (co < s.cout) {
    for (int64_t p = begin + threadIdx.y; p < end; p += 8) {
      const int64_t ow = p % s.ow, oh = (p / s.ow) % s.oh, n = p / (s.ow * s.oh);
      const int64_t ih = oh * s.stride - s.pad_h + kh * s.dilation, iw = ow * s.stride - s.pad_w + kw * s.dilation;
      if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
      acc += dy[p * s.cout + co] * x[((n * s.h + ih) * s.w + iw) * s.cin + co / m];
    }
  }
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && co < s.cout) {
    for (int k = 1; k < 8; ++k) acc += sums[k][threadIdx.x];
    partial[blockIdx.z * s.cout * taps + co * taps + tap] = acc;
  }
}

template <typename T>
__global__ void depthwise_weight_final_kernel(const T* __restrict__ partial, int64_t slices, int64_t n,
                                              T* __restrict__ dw) {
  ATROUS_GRID_STRIDE(i, n) {
    double acc = 0.0;
    for (int64_t z = 0; z < slices; ++z) acc += static_cast<double>(partial[z * n + i]);
    dw[i] = static_cast<T>(acc);
  }
}

}  // namespace

template <typename T>
void depthwise_conv2d_forward(int device, const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  launch_1d("depthwise_forward_kernel", s.pixels() * s.cout, device, depthwise_forward_kernel<T>, s, x, w, bias, y);
}

template <typename T>
void depthwise_conv2d_backward_data(int device, const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  launch_1d("depthwise_backward_data_kernel", s.n * s.h * s.w * s.cin, device, depthwise_backward_data_kernel<T>, s,
            dy, w, dx);
}

template <typename T>
void depthwise_conv2d_backward_weight(int device, const Conv2dShape& s, const T* dy, const T* x, T* dw) {
  const int64_t taps = s.kh * s.kw, channel_blocks = (s.cout + 31) / 32, pixels = s.pixels();
  ATROUS_CHECK(taps <= 65535 && channel_blocks <= INT_MAX, "depthwise conv2d backward-weight: ", s.cout,
               " channels with a ", s.kh, "x", s.kw, " kernel is too large for one launch");
  // Enough slices to fill the device (~1024 blocks), each at least 64 pixels long.
  const int64_t slices =
      std::max<int64_t>(1, std::min<int64_t>({1024 / std::max<int64_t>(1, channel_blocks * taps), pixels / 64, 65535}));
  const int64_t pixels_per_slice = (pixels + slices - 1) / slices;
  Scratch partial(static_cast<size_t>(slices * s.cout * taps) * sizeof(T), device);
  launch("depthwise_weight_partials_kernel",
         dim3(static_cast<unsigned>(channel_blocks), static_cast<unsigned>(taps), static_cast<unsigned>(slices)),
         dim3(32, 8), 0, atrous::cuda::stream(device), depthwise_weight_partials_kernel<T>, s, dy, x, pixels_per_slice,
         partial.as<T>());
  launch_1d("depthwise_weight_final_kernel", s.cout * taps, device, depthwise_weight_final_kernel<T>,
            partial.as<T>(), slices, s.cout * taps, dw);
}

#define ATROUS_INSTANTIATE(T)                                                                                      \
  template void depthwise_conv2d_forward<T>(int, const Conv2dShape&, const T*, const T*, const T*, T*);            \
  template void depthwise_conv2d_backward_data<T>(int, const Conv2dShape&, const T*, const T*, T*);                \
  template void depthwise_conv2d_backward_weight<T>(int, const Conv2dShape&, const T*, const T*, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels::cuda
