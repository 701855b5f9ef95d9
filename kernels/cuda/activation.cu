// MobileNet activation CUDA kernels: grid-stride maps for ReLU6 / hard sigmoid / hard swish with the same math as
// kernels/cpu/activation.cpp (edges and NaN as PyTorch, see kernels/activation.h), and the squeeze-and-excitation
// rescale, whose scale gradient is a gather: one thread per (n, c) walking the pixels in order, no atomics.
#include "kernels/activation.h"

#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

template <typename T>
__device__ inline T clamp_0_6(T v) {
  return v < T(0) ? T(0) : (v > T(6) ? T(6) : v);
}

template <typename T>
struct Relu6 {
  static __device__ T forward(T x) { return clamp_0_6(x); }
  static __device__ T backward(T x, T dy) { return (x <= T(0) || x >= T(6)) ? T(0) : dy; }
};
template <typename T>
struct Hardsigmoid {
  static __device__ T forward(T x) { return clamp_0_6(x + T(3)) / T(6); }
  static __device__ T backward(T x, T dy) { return (x > T(-3) && x < T(3)) ? dy / T(6) : T(0); }
};
template <typename T>
struct Hardswish {
  static __device__ T forward(T x) { return x * clamp_0_6(x + T(3)) / T(6); }
  static __device__ T backward(T x, T dy) { return x < T(-3) ? T(0) : (x <= T(3) ? dy * (x / T(3) + T(0.5)) : dy); }
};

template <typename Op, typename T>
__global__ void hard_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  ATROUS_GRID_STRIDE(i, n) y[i] = Op::forward(x[i]);
}

template <typename Op, typename T>
__global__ void hard_backward_kernel(const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx, int64_t n) {
  ATROUS_GRID_STRIDE(i, n) dx[i] = Op::backward(x[i], dy[i]);
}

template <typename Op, typename T>
void launch_hard(const char* forward_name, const char* backward_name, const T* x, const T* dy, T* out, int64_t n,
                 int device) {
  if (dy == nullptr) {
    launch_1d(forward_name, n, device, hard_forward_kernel<Op, T>, x, out, n);
  } else {
    launch_1d(backward_name, n, device, hard_backward_kernel<Op, T>, x, dy, out, n);
  }
}

// Forward when dy is null, else backward into out.
template <typename T>
void hard_activation(int device, HardActivation kind, const T* x, const T* dy, T* out, int64_t n) {
  if (n == 0) return;
  switch (kind) {
    case HardActivation::relu6:
      return launch_hard<Relu6<T>>("relu6_forward_kernel", "relu6_backward_kernel", x, dy, out, n, device);
    case HardActivation::hardsigmoid:
      return launch_hard<Hardsigmoid<T>>("hardsigmoid_forward_kernel", "hardsigmoid_backward_kernel", x, dy, out, n,
                                         device);
    case HardActivation::hardswish:
      return launch_hard<Hardswish<T>>("hardswish_forward_kernel", "hardswish_backward_kernel", x, dy, out, n, device);
  }
  ATROUS_FAIL("hard_activation: unknown activation ", static_cast<int>(kind));
}

// y = x * s[n, c], one thread per element (also dx = dy * s).
template <typename T>
__global__ void scale_channels_kernel(const T* __restrict__ x, const T* __restrict__ s, ScaleChannelsShape shape,
                                      T* __restrict__ y) {
  ATROUS_GRID_STRIDE(i, shape.batch * shape.pixels * shape.channels) {
    const int64_t c = i % shape.channels, n = i / (shape.pixels * shape.channels);
    y[i] = x[i] * s[n * shape.channels + c];
  }
}

// ds[n, c] = sum over pixels of dy * x in double, in pixel order (as the CPU kernel); consecutive threads read
// consecutive channels.
template <typename T>
__global__ void scale_channels_grad_scale_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                                                 ScaleChannelsShape shape, T* __restrict__ ds) {
  ATROUS_GRID_STRIDE(i, shape.batch * shape.channels) {
    const int64_t C = shape.channels, n = i / C, c = i - n * C;
    const int64_t base = n * shape.pixels * C + c;
    double acc = 0.0;
    for (int64_t p = 0; p < shape.pixels; ++p)
      acc += static_cast<double>(dy[base + p * C]) * static_cast<double>(x[base + p * C]);
    ds[i] = static_cast<T>(acc);
  }
}

template <typename T>
__global__ void sigmoid_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  ATROUS_GRID_STRIDE(i, n) y[i] = T(1) / (T(1) + exp(-x[i]));
}

template <typename T>
__global__ void sigmoid_backward_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                                        int64_t n) {
  ATROUS_GRID_STRIDE(i, n) dx[i] = dy[i] * y[i] * (T(1) - y[i]);
}

}  // namespace

template <typename T>
void sigmoid_forward(int device, const T* x, T* y, int64_t n) {
  if (n > 0) launch_1d("sigmoid_forward_kernel", n, device, sigmoid_forward_kernel<T>, x, y, n);
}

template <typename T>
void sigmoid_backward(int device, const T* y, const T* dy, T* dx, int64_t n) {
  if (n > 0) launch_1d("sigmoid_backward_kernel", n, device, sigmoid_backward_kernel<T>, y, dy, dx, n);
}

template <typename T>
void hard_activation_forward(int device, HardActivation kind, const T* x, T* y, int64_t n) {
  hard_activation<T>(device, kind, x, nullptr, y, n);
}

template <typename T>
void hard_activation_backward(int device, HardActivation kind, const T* x, const T* dy, T* dx, int64_t n) {
  hard_activation<T>(device, kind, x, dy, dx, n);
}

template <typename T>
void scale_channels_forward(int device, const T* x, const T* s, ScaleChannelsShape shape, T* y) {
  const int64_t n = shape.batch * shape.pixels * shape.channels;
  if (n == 0) return;
  launch_1d("scale_channels_kernel", n, device, scale_channels_kernel<T>, x, s, shape, y);
}

template <typename T>
void scale_channels_backward(int device, const T* x, const T* s, const T* dy, ScaleChannelsShape shape, T* dx, T* ds) {
  if (dx) scale_channels_forward<T>(device, dy, s, shape, dx);
  if (ds && shape.batch * shape.channels > 0) {
    launch_1d("scale_channels_grad_scale_kernel", shape.batch * shape.channels, device,
              scale_channels_grad_scale_kernel<T>, x, dy, shape, ds);
  }
}

#define ATROUS_INSTANTIATE(T)                                                                      \
  template void hard_activation_forward<T>(int, HardActivation, const T*, T*, int64_t);            \
  template void hard_activation_backward<T>(int, HardActivation, const T*, const T*, T*, int64_t); \
  template void sigmoid_forward<T>(int, const T*, T*, int64_t);                                    \
  template void sigmoid_backward<T>(int, const T*, const T*, T*, int64_t);                         \
  template void scale_channels_forward<T>(int, const T*, const T*, ScaleChannelsShape, T*);        \
  template void scale_channels_backward<T>(int, const T*, const T*, const T*, ScaleChannelsShape, T*, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)
#undef ATROUS_INSTANTIATE

}  // namespace atrous::kernels::cuda
