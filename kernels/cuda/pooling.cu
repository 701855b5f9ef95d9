// Max / average / global-average pooling on NHWC, CUDA: one thread per output element (forward) or per input
// element (backward, a gather over the windows covering it), channels innermost so warps read contiguous memory.
// Same window rules as kernels/cpu/pooling.cpp: padding acts as -inf for max, first maximum wins, NaN propagates,
// average divisors are the window clipped to the padded input (count_include_pad) or to the input.
#include "kernels/pooling.h"

#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

struct Index4 {
  int64_t n, a, b, c;  // batch, row, column, channel
};

__host__ __device__ inline Index4 unflatten(int64_t i, int64_t rows, int64_t cols, int64_t channels) {
  Index4 idx;
  idx.c = i % channels;
  int64_t rest = i / channels;
  idx.b = rest % cols;
  rest /= cols;
  idx.a = rest % rows;
  idx.n = rest / rows;
  return idx;
}

// Outputs o whose window [o*stride - padding, o*stride - padding + kernel) contains input position i: [begin, end).
__host__ __device__ inline void outputs_covering(int64_t i, int64_t out_size, const Pool2dShape& s, int64_t& begin,
                                        int64_t& end) {
  const int64_t first_num = i + s.padding - s.kernel + 1;
  begin = first_num <= 0 ? 0 : (first_num + s.stride - 1) / s.stride;
  end = (i + s.padding) / s.stride + 1;
  end = end < out_size ? end : out_size;
  end = end > begin ? end : begin;
}

__host__ __device__ inline int64_t window_extent(int64_t o, int64_t in_size, const Pool2dShape& s, bool include_pad) {
  const int64_t start = o * s.stride - s.padding;
  const int64_t stop = start + s.kernel < in_size + s.padding ? start + s.kernel : in_size + s.padding;
  if (include_pad) return stop - start;
  return (stop < in_size ? stop : in_size) - (start > 0 ? start : 0);
}

template <typename T>
__global__ void max_pool_forward_kernel(const T* __restrict__ x, Pool2dShape s, T* __restrict__ y,
                                        int32_t* __restrict__ argmax) {
  ATROUS_GRID_STRIDE(i, s.batch * s.out_h * s.out_w * s.channels) {
    const Index4 o = unflatten(i, s.out_h, s.out_w, s.channels);
    const int64_t h0 = o.a * s.stride - s.padding, w0 = o.b * s.stride - s.padding;
    const int64_t hs = h0 > 0 ? h0 : 0, ws = w0 > 0 ? w0 : 0;
    const int64_t he = h0 + s.kernel < s.in_h ? h0 + s.kernel : s.in_h;
    const int64_t we = w0 + s.kernel < s.in_w ? w0 + s.kernel : s.in_w;
    const T* image = x + o.n * s.in_h * s.in_w * s.channels + o.c;
    T best = -INFINITY;
    int32_t where = static_cast<int32_t>(hs * s.in_w + ws);
    for (int64_t h = hs; h < he; ++h) {
      for (int64_t w = ws; w < we; ++w) {
        const T v = image[(h * s.in_w + w) * s.channels];
        if (v > best || v != v) {
          best = v;
          where = static_cast<int32_t>(h * s.in_w + w);
        }
      }
    }
    y[i] = best;
    argmax[i] = where;
  }
}

template <typename T>
__global__ void max_pool_backward_kernel(const T* __restrict__ dy, const int32_t* __restrict__ argmax, Pool2dShape s,
                                         T* __restrict__ dx) {
  ATROUS_GRID_STRIDE(i, s.batch * s.in_h * s.in_w * s.channels) {
    const Index4 in = unflatten(i, s.in_h, s.in_w, s.channels);
    int64_t oh0, oh1, ow0, ow1;
    outputs_covering(in.a, s.out_h, s, oh0, oh1);
    outputs_covering(in.b, s.out_w, s, ow0, ow1);
    const int32_t pos = static_cast<int32_t>(in.a * s.in_w + in.b);
    const int64_t base = in.n * s.out_h * s.out_w * s.channels + in.c;
    T acc = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const int64_t j = base + (oh * s.out_w + ow) * s.channels;
        if (argmax[j] == pos) acc += dy[j];
      }
    }
    dx[i] = acc;
  }
}

template <typename T>
__global__ void avg_pool_forward_kernel(const T* __restrict__ x, Pool2dShape s, bool include_pad, T* __restrict__ y) {
  ATROUS_GRID_STRIDE(i, s.batch * s.out_h * s.out_w * s.channels) {
    const Index4 o = unflatten(i, s.out_h, s.out_w, s.channels);
    const int64_t h0 = o.a * s.stride - s.padding, w0 = o.b * s.stride - s.padding;
    const int64_t hs = h0 > 0 ? h0 : 0, ws = w0 > 0 ? w0 : 0;
    const int64_t he = h0 + s.kernel < s.in_h ? h0 + s.kernel : s.in_h;
    const int64_t we = w0 + s.kernel < s.in_w ? w0 + s.kernel : s.in_w;
    const T* image = x + o.n * s.in_h * s.in_w * s.channels + o.c;
    T acc = T(0);
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) acc += image[(h * s.in_w + w) * s.channels];
    const T divisor = static_cast<T>(window_extent(o.a, s.in_h, s, include_pad) *
                                     window_extent(o.b, s.in_w, s, include_pad));
    y[i] = acc / divisor;
  }
}

template <typename T>
__global__ void avg_pool_backward_kernel(const T* __restrict__ dy, Pool2dShape s, bool include_pad,
                                         T* __restrict__ dx) {
  ATROUS_GRID_STRIDE(i, s.batch * s.in_h * s.in_w * s.channels) {
    const Index4 in = unflatten(i, s.in_h, s.in_w, s.channels);
    int64_t oh0, oh1, ow0, ow1;
    outputs_covering(in.a, s.out_h, s, oh0, oh1);
    outputs_covering(in.b, s.out_w, s, ow0, ow1);
    const int64_t base = in.n * s.out_h * s.out_w * s.channels + in.c;
    T acc = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const int64_t eh = window_extent(oh, s.in_h, s, include_pad);
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const T inv = T(1) / static_cast<T>(eh * window_extent(ow, s.in_w, s, include_pad));
        acc += dy[base + (oh * s.out_w + ow) * s.channels] * inv;
      }
    }
    dx[i] = acc;
  }
}

// One thread per (n, c), walking the pixels in order with a double accumulator; consecutive threads read
// consecutive channels.
template <typename T>
__global__ void global_avg_forward_kernel(const T* __restrict__ x, int64_t batch, int64_t pixels, int64_t channels,
                                          T* __restrict__ y) {
  ATROUS_GRID_STRIDE(i, batch * channels) {
    const int64_t n = i / channels, c = i - n * channels;
    const T* image = x + n * pixels * channels + c;
    double acc = 0.0;
    for (int64_t p = 0; p < pixels; ++p) acc += static_cast<double>(image[p * channels]);
    y[i] = static_cast<T>(acc / static_cast<double>(pixels));
  }
}

template <typename T>
__global__ void global_avg_backward_kernel(const T* __restrict__ dy, int64_t batch, int64_t pixels, int64_t channels,
                                           T inv, T* __restrict__ dx) {
  ATROUS_GRID_STRIDE(i, batch * pixels * channels) {
    const int64_t c = i % channels, n = i / (pixels * channels);
    dx[i] = dy[n * channels + c] * inv;
  }
}

// Nothing to do for an empty tensor; otherwise one thread per element.
template <typename... Params, typename... Args>
void launch_elements(int device, int64_t n, const char* name, void (*kernel)(Params...), Args... args) {
  if (n == 0) return;
  launch_1d(name, n, device, kernel, args...);
}

}  // namespace

template <typename T> void max_pool2d_forward(int device, const T* x, Pool2dShape s, T* y, int32_t* argmax) {
  launch_elements(device, s.batch * s.out_h * s.out_w * s.channels, "max_pool_forward_kernel",
                  max_pool_forward_kernel<T>, x, s, y, argmax);
}
template <typename T> void max_pool2d_backward(int device, const T* dy, const int32_t* argmax, Pool2dShape s, T* dx) {
  launch_elements(device, s.batch * s.in_h * s.in_w * s.channels, "max_pool_backward_kernel",
                  max_pool_backward_kernel<T>, dy, argmax, s, dx);
}
template <typename T> void avg_pool2d_forward(int device, const T* x, Pool2dShape s, bool count_include_pad, T* y) {
  launch_elements(device, s.batch * s.out_h * s.out_w * s.channels, "avg_pool_forward_kernel",
                  avg_pool_forward_kernel<T>, x, s, count_include_pad, y);
}
template <typename T>
void avg_pool2d_backward(int device, const T* dy, Pool2dShape s, bool count_include_pad, T* dx) {
  launch_elements(device, s.batch * s.in_h * s.in_w * s.channels, "avg_pool_backward_kernel",
                  avg_pool_backward_kernel<T>, dy, s, count_include_pad, dx);
}
template <typename T>
void global_avg_pool_forward(int device, const T* x, int64_t batch, int64_t pixels, int64_t channels, T* y) {
  launch_elements(device, batch * channels, "global_avg_forward_kernel", global_avg_forward_kernel<T>, x, batch, pixels,
                  channels, y);
}
template <typename T>
void global_avg_pool_backward(int device, const T* dy, int64_t batch, int64_t pixels, int64_t channels, T* dx) {
  const T inv = static_cast<T>(1.0 / static_cast<double>(pixels));
  launch_elements(device, batch * pixels * channels, "global_avg_backward_kernel", global_avg_backward_kernel<T>, dy,
                  batch, pixels, channels, inv, dx);
}

#define ATROUS_INSTANTIATE(T)                                                                       \
  template void max_pool2d_forward<T>(int, const T*, Pool2dShape, T*, int32_t*);                    \
  template void max_pool2d_backward<T>(int, const T*, const int32_t*, Pool2dShape, T*);             \
  template void avg_pool2d_forward<T>(int, const T*, Pool2dShape, bool, T*);                        \
  template void avg_pool2d_backward<T>(int, const T*, Pool2dShape, bool, T*);                       \
  template void global_avg_pool_forward<T>(int, const T*, int64_t, int64_t, int64_t, T*);           \
  template void global_avg_pool_backward<T>(int, const T*, int64_t, int64_t, int64_t, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)
#undef ATROUS_INSTANTIATE

}  // namespace atrous::kernels::cuda
