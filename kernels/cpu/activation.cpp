// MobileNet activation CPU kernels: OpenMP over elements with the piecewise-linear math of kernels/activation.h,
// and the squeeze-and-excitation rescale, whose scale gradient sums each channel over the pixels in a fixed order.
#include "kernels/activation.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace atrous::kernels {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 15;

// The comparisons are written so that NaN falls where PyTorch puts it (see kernels/activation.h).
template <typename T>
T clamp_0_6(T v) {
  return v < T(0) ? T(0) : (v > T(6) ? T(6) : v);
}

template <typename T>
struct Relu6 {
  static T forward(T x) { return clamp_0_6(x); }
  static T backward(T x, T dy) { return (x <= T(0) || x >= T(6)) ? T(0) : dy; }
};
template <typename T>
struct Hardsigmoid {
  static T forward(T x) { return clamp_0_6(x + T(3)) / T(6); }
  static T backward(T x, T dy) { return (x > T(-3) && x < T(3)) ? dy / T(6) : T(0); }
};
template <typename T>
struct Hardswish {
  static T forward(T x) { return x * clamp_0_6(x + T(3)) / T(6); }
  static T backward(T x, T dy) { return x < T(-3) ? T(0) : (x <= T(3) ? dy * (x / T(3) + T(0.5)) : dy); }
};

template <typename Op, typename T>
void map_forward(const T* __restrict x, T* __restrict y, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) y[i] = Op::forward(x[i]);
}

template <typename Op, typename T>
void map_backward(const T* __restrict x, const T* __restrict dy, T* __restrict dx, int64_t n) {
#pragma omp parallel for simd if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) dx[i] = Op::backward(x[i], dy[i]);
}

// Channels per task of the scale gradient: each task owns whole channels, so the sums need no reduction across
// threads and do not depend on how many there are.
constexpr int64_t kChannelBlock = 64;

}  // namespace

template <typename T>
void hard_activation_forward_cpu(HardActivation kind, const T* x, T* y, int64_t n) {
  switch (kind) {
    case HardActivation::relu6:
      return map_forward<Relu6<T>>(x, y, n);
    case HardActivation::hardsigmoid:
      return map_forward<Hardsigmoid<T>>(x, y, n);
    case HardActivation::hardswish:
      return map_forward<Hardswish<T>>(x, y, n);
  }
  ATROUS_FAIL("hard_activation_forward_cpu: unknown activation ", static_cast<int>(kind));
}

template <typename T>
void hard_activation_backward_cpu(HardActivation kind, const T* x, const T* dy, T* dx, int64_t n) {
  switch (kind) {
    case HardActivation::relu6:
      return map_backward<Relu6<T>>(x, dy, dx, n);
    case HardActivation::hardsigmoid:
      return map_backward<Hardsigmoid<T>>(x, dy, dx, n);
    case HardActivation::hardswish:
      return map_backward<Hardswish<T>>(x, dy, dx, n);
  }
  ATROUS_FAIL("hard_activation_backward_cpu: unknown activation ", static_cast<int>(kind));
}

template <typename T>
void scale_channels_forward_cpu(const T* x, const T* s, ScaleChannelsShape shape, T* y) {
  const int64_t P = shape.pixels, C = shape.channels;
#pragma omp parallel for collapse(2) schedule(static) if (shape.batch * P * C > kParallelThreshold)
  for (int64_t n = 0; n < shape.batch; ++n) {
    for (int64_t p = 0; p < P; ++p) {
      const T* __restrict scale = s + n * C;
      const T* __restrict in = x + (n * P + p) * C;
      T* __restrict out = y + (n * P + p) * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) out[c] = in[c] * scale[c];
    }
  }
}

template <typename T>
void scale_channels_backward_cpu(const T* x, const T* s, const T* dy, ScaleChannelsShape shape, T* dx, T* ds) {
  const int64_t N = shape.batch, P = shape.pixels, C = shape.channels;
  if (dx) scale_channels_forward_cpu(dy, s, shape, dx);
  if (!ds) return;
  const int64_t blocks = (C + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel for collapse(2) schedule(static) if (N * P * C > kParallelThreshold)
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t c0 = b * kChannelBlock, width = std::min(kChannelBlock, C - c0);
      double acc[kChannelBlock] = {};
      for (int64_t p = 0; p < P; ++p) {
        const T* __restrict g = dy + (n * P + p) * C + c0;
        const T* __restrict in = x + (n * P + p) * C + c0;
#pragma omp simd
        for (int64_t c = 0; c < width; ++c) acc[c] += static_cast<double>(g[c]) * static_cast<double>(in[c]);
      }
      for (int64_t c = 0; c < width; ++c) ds[n * C + c0 + c] = static_cast<T>(acc[c]);
    }
  }
}

template <typename T>
void sigmoid_forward_cpu(const T* x, T* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + std::exp(-x[i]));  // exp overflow gives 0, as it should
}

template <typename T>
void sigmoid_backward_cpu(const T* y, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (T(1) - y[i]);
}

#define ATROUS_INSTANTIATE(T)                                                                     \
  template void hard_activation_forward_cpu<T>(HardActivation, const T*, T*, int64_t);            \
  template void hard_activation_backward_cpu<T>(HardActivation, const T*, const T*, T*, int64_t); \
  template void sigmoid_forward_cpu<T>(const T*, T*, int64_t);                                    \
  template void sigmoid_backward_cpu<T>(const T*, const T*, T*, int64_t);                         \
  template void scale_channels_forward_cpu<T>(const T*, const T*, ScaleChannelsShape, T*);        \
  template void scale_channels_backward_cpu<T>(const T*, const T*, const T*, ScaleChannelsShape, T*, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)
#undef ATROUS_INSTANTIATE

}  // namespace atrous::kernels
