// MobileNet activation kernels: ReLU6, hard sigmoid and hard swish (MobileNetV3, Howard et al. 2019, eq. 1-2, in
// PyTorch's definitions) on contiguous arrays, and squeeze-and-excitation's per-channel rescale of an NHWC tensor.
#pragma once
#include <cstdint>

namespace atrous::kernels {

// The piecewise-linear activations; each backward reads the op's input x, as PyTorch's *_backward kernels do.
//   relu6(x)       = min(max(x, 0), 6)          grad 0 for x <= 0 or x >= 6, else 1 (hardtanh_backward: 0 at 0 and 6)
//   hardsigmoid(x) = min(max(x + 3, 0), 6) / 6  grad 1/6 for -3 < x < 3, else 0 (0 at -3 and 3)
//   hardswish(x)   = x * hardsigmoid(x)         grad 0 for x < -3, x/3 + 1/2 for -3 <= x <= 3 (so -1/2 at -3 and
//                                               3/2 at 3), else 1
// The comparisons are those of PyTorch 1.13's scalar CPU and CUDA kernels (aten/src/ATen/native/cpu/Activation.cpp,
// cuda/ActivationHard*.cu), edges and NaN included: a NaN input gives a NaN output, and gradient 1 for relu6 and
// hardswish, 0 for hardsigmoid. PyTorch's AVX-vectorised CPU path (runs of 2 x 8 f32) disagrees with its own scalar
// path in two places: hardswish's gradient at exactly x = 3 is 1 there (3/2 here), and a NaN input gets gradient 0
// for relu6 and NaN for hardswish. Also, PyTorch's f64 hardsigmoid backward multiplies by the f32 constant
// 1.0f / 6; we divide by 6 in T.
enum class HardActivation { relu6, hardsigmoid, hardswish };

template <typename T>
void hard_activation_forward_cpu(HardActivation kind, const T* x, T* y, int64_t n);
template <typename T>
void hard_activation_backward_cpu(HardActivation kind, const T* x, const T* dy, T* dx, int64_t n);

// sigmoid(x) = 1 / (1 + exp(-x)) (LR-ASPP's attention branch); the backward reads the output: dx = dy * y * (1 - y).
template <typename T>
void sigmoid_forward_cpu(const T* x, T* y, int64_t n);
template <typename T>
void sigmoid_backward_cpu(const T* y, const T* dy, T* dx, int64_t n);

// y[n, p, c] = x[n, p, c] * s[n, c] for x [batch, pixels, channels] (NHWC with pixels = H * W) and s [batch, channels].
struct ScaleChannelsShape {
  int64_t batch = 0, pixels = 0, channels = 0;
};
template <typename T>
void scale_channels_forward_cpu(const T* x, const T* s, ScaleChannelsShape shape, T* y);
// dx = dy * s (when dx is not null); ds[n, c] = sum over pixels of dy * x, accumulated in double in pixel order
// (when ds is not null), so the result does not depend on the thread count.
template <typename T>
void scale_channels_backward_cpu(const T* x, const T* s, const T* dy, ScaleChannelsShape shape, T* dx, T* ds);

namespace cuda {

// The CUDA launchers (kernels/cuda/activation.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). T is float or double.
// Backward reads the input x.
template <typename T>
void hard_activation_forward(int device, HardActivation kind, const T* x, T* y, int64_t n);
template <typename T>
void hard_activation_backward(int device, HardActivation kind, const T* x, const T* dy, T* dx, int64_t n);
template <typename T> void sigmoid_forward(int device, const T* x, T* y, int64_t n);
template <typename T> void sigmoid_backward(int device, const T* y, const T* dy, T* dx, int64_t n);
template <typename T>
void scale_channels_forward(int device, const T* x, const T* s, ScaleChannelsShape shape, T* y);
// dx and ds may each be null; ds is a gather over the pixels (deterministic, no atomics).
template <typename T>
void scale_channels_backward(int device, const T* x, const T* s, const T* dy, ScaleChannelsShape shape, T* dx, T* ds);

}  // namespace cuda

}  // namespace atrous::kernels
