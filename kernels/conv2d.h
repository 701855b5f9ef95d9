// 2-D convolution kernels (NHWC activations, weights [Cout,KH,KW,Cin]) on raw pointers: forward, backward-data,
// backward-weight and bias gradient. CPU: im2col (dilated sampling) in tiles + GEMM, skipping taps that fall in the
// zero padding.
#pragma once
#include <cstdint>

namespace atrous::kernels {

// Sizes of one convolution. Padding may differ per axis (the backward-data pass runs a "transposed" convolution
// whose padding is d*(K-1) - p per axis) and may be negative (cropping) there.
struct Conv2dShape {
  int64_t n = 0, h = 0, w = 0, cin = 0;  // input
  int64_t cout = 0, kh = 0, kw = 0;      // weight
  int64_t oh = 0, ow = 0;                // output
  int64_t stride = 1, pad_h = 0, pad_w = 0, dilation = 1;

  int64_t pixels() const { return n * oh * ow; }   // GEMM rows: one per output pixel
  int64_t patch() const { return kh * kw * cin; }  // GEMM depth: one im2col row
  // 1x1, stride 1, no padding: the input already is the im2col matrix [N*H*W, Cin].
  bool is_pointwise() const { return kh == 1 && kw == 1 && stride == 1 && pad_h == 0 && pad_w == 0; }
};

// Each pass needs a scratch buffer of *_workspace_cpu(s) elements of T (0 means none; pass nullptr). The size
// depends on omp_get_max_threads(), which must not change between the query and the call; the kernels check it
// and throw atrous::Error when the buffer given is too small.

// What the forward does to each output value v of channel c once its sum over the taps is done, on the output tile
// while it is in cache: v += bias[c]; then v = (v - mean[c]) * scale[c] + offset[c] (a batch norm with running
// statistics, scale = weight / sqrt(var + eps), folded in: no pass of its own over the output); then v +=
// residual[pixel][c] (a residual block's shortcut, [N*OH*OW, cout] like y); then v = max(v, 0) (ReLU, with relu's
// NaN -> 0). Null pointers skip their step; mean, scale and offset go together.
template <typename T>
struct ConvEpilogue {
  const T* bias = nullptr;
  const T* mean = nullptr;
  const T* scale = nullptr;
  const T* offset = nullptr;
  const T* residual = nullptr;
  bool relu = false;
};

// How the CPU forward (and stride-1 backward-data) computes float convolutions that Winograd F(2x2, 3x3) applies
// to (3x3, stride 1, any dilation, >= 16 channels in and out; kernels/cpu/conv2d_winograd.h): automatic takes it
// where it does less work than im2col (2.25x fewer multiplies, against the padding taps im2col skips), winograd
// wherever it applies, im2col nowhere. Winograd's results are within float rounding of im2col's (~1e-6 relative).
// The environment variable ATROUS_CONV=automatic|winograd|im2col sets the initial choice. Like the thread count, it
// must not change between a workspace query and the call it sizes.
enum class ConvAlgorithm { automatic, winograd, im2col };
ConvAlgorithm conv_algorithm();
void set_conv_algorithm(ConvAlgorithm algorithm);

// y[N,OH,OW,Cout] = conv(x, w) + bias (bias may be null), or with the whole epilogue.
template <typename T> int64_t conv2d_forward_workspace_cpu(const Conv2dShape& s);
template <typename T>
void conv2d_forward_cpu(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y, T* workspace,
                        int64_t workspace_elems);
template <typename T>
void conv2d_forward_cpu(const Conv2dShape& s, const T* x, const T* w, const ConvEpilogue<T>& epilogue, T* y,
                        T* workspace, int64_t workspace_elems);

// dx[N,H,W,Cin] from dy[N,OH,OW,Cout] (dx is overwritten).
template <typename T> int64_t conv2d_backward_data_workspace_cpu(const Conv2dShape& s);
template <typename T>
void conv2d_backward_data_cpu(const Conv2dShape& s, const T* dy, const T* w, T* dx, T* workspace,
                              int64_t workspace_elems);

// dw[Cout,KH,KW,Cin] = sum over pixels of dy^T * im2col(x) (dw is overwritten).
template <typename T> int64_t conv2d_backward_weight_workspace_cpu(const Conv2dShape& s);
template <typename T>
void conv2d_backward_weight_cpu(const Conv2dShape& s, const T* dy, const T* x, T* dw, T* workspace,
                                int64_t workspace_elems);

// db[Cout] = sum of dy over N, OH, OW (accumulated in double).
template <typename T> void conv2d_backward_bias_cpu(const Conv2dShape& s, const T* dy, T* db);

namespace cuda {

// The CUDA launchers (kernels/cuda/conv2d.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). T is float or double.
// Implicit GEMM in NHWC, fp32/fp64 FMA, tiled in shared memory; cuBLAS for pointwise convolutions.
template <typename T>
void conv2d_forward(int device, const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <typename T> void conv2d_backward_data(int device, const Conv2dShape& s, const T* dy, const T* w, T* dx);
// Split over pixels into partial sums reduced in a fixed order: deterministic.
template <typename T> void conv2d_backward_weight(int device, const Conv2dShape& s, const T* dy, const T* x, T* dw);
template <typename T> void conv2d_backward_bias(int device, const Conv2dShape& s, const T* dy, T* db);

}  // namespace cuda

}  // namespace atrous::kernels
