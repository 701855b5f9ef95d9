// Max and average pooling kernels on NHWC data, square windows; plus global average pooling. No autograd here.
#pragma once
#include <cstdint>

namespace atrous::kernels {

struct Pool2dShape {
  int64_t batch = 0, in_h = 0, in_w = 0, channels = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t kernel = 1, stride = 1, padding = 0;
};

// Padding acts as -inf. argmax[n,oh,ow,c] = ih*in_w + iw of the chosen input pixel; ties go to the first pixel in
// row-major window order and NaN propagates (PyTorch). Every window must hold at least one input pixel.
template <typename T>
void max_pool2d_forward_cpu(const T* x, Pool2dShape s, T* y, int32_t* argmax);
// Gather: each input pixel sums dy over the windows covering it whose argmax is that pixel (no scatter races).
template <typename T>
void max_pool2d_backward_cpu(const T* dy, const int32_t* argmax, Pool2dShape s, T* dx);

// count_include_pad: divide by the window clipped to [-padding, in + padding) (Caffe; PyTorch's default), else by
// the number of input pixels in the window.
template <typename T>
void avg_pool2d_forward_cpu(const T* x, Pool2dShape s, bool count_include_pad, T* y);
template <typename T>
void avg_pool2d_backward_cpu(const T* dy, Pool2dShape s, bool count_include_pad, T* dx);

// [N,H,W,C] -> [N,C] means over H*W (accumulated in double); backward spreads dy/(H*W) over every pixel.
template <typename T>
void global_avg_pool_forward_cpu(const T* x, int64_t batch, int64_t pixels, int64_t channels, T* y);
template <typename T>
void global_avg_pool_backward_cpu(const T* dy, int64_t batch, int64_t pixels, int64_t channels, T* dx);

namespace cuda {

// The CUDA launchers (kernels/cuda/pooling.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). T is float or double.
// Backward passes are gathers (no atomics).
template <typename T> void max_pool2d_forward(int device, const T* x, Pool2dShape s, T* y, int32_t* argmax);
template <typename T> void max_pool2d_backward(int device, const T* dy, const int32_t* argmax, Pool2dShape s, T* dx);
template <typename T> void avg_pool2d_forward(int device, const T* x, Pool2dShape s, bool count_include_pad, T* y);
template <typename T>
void avg_pool2d_backward(int device, const T* dy, Pool2dShape s, bool count_include_pad, T* dx);
template <typename T>
void global_avg_pool_forward(int device, const T* x, int64_t batch, int64_t pixels, int64_t channels, T* y);
template <typename T>
void global_avg_pool_backward(int device, const T* dy, int64_t batch, int64_t pixels, int64_t channels, T* dx);

}  // namespace cuda

}  // namespace atrous::kernels
