// Bilinear resize on NHWC, CUDA: one thread per output element (channels innermost, so a warp reads contiguous
// channels). The backward is a gather: each input element sums the outputs that sampled it, found by binary search
// over the monotonic tap table, in ascending output order; no atomics, so it is deterministic.
#include "kernels/resize.h"

#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

struct Tap {
  int64_t lo, hi;
  double frac;
};

// The device twin of axis_taps (kernels/cpu/resize.cpp), on the same resize_source_index (kernels/resize.h): the
// same double arithmetic (no multiply-add to contract), so both devices pick the same neighbours and fractions.
__host__ __device__ inline Tap axis_tap(int64_t o, int64_t in, int64_t out, bool align_corners) {
  const double src = resize_source_index(o, in, out, align_corners);
  Tap t;
  t.lo = static_cast<int64_t>(src);
  t.lo = t.lo < in - 1 ? t.lo : in - 1;
  t.hi = t.lo + 1 < in - 1 ? t.lo + 1 : in - 1;
  t.frac = t.hi == t.lo ? 0.0 : src - static_cast<double>(t.lo);
  return t;
}

// First output index whose tap's lo is >= target (lo is non-decreasing in the output index).
__host__ __device__ inline int64_t first_output_with_lo_at_least(int64_t target, int64_t in, int64_t out, bool align) {
  int64_t begin = 0, end = out;
  while (begin < end) {
    const int64_t mid = (begin + end) / 2;
    if (axis_tap(mid, in, out, align).lo < target) {
      begin = mid + 1;
    } else {
      end = mid;
    }
  }
  return begin;
}

// Weight with which output tap t reads input index i.
template <typename T> __host__ __device__ inline T tap_weight(const Tap& t, int64_t i) {
  T w = T(0);
  if (t.lo == i) w += static_cast<T>(1.0 - t.frac);
  if (t.frac != 0.0 && t.hi == i) w += static_cast<T>(t.frac);
  return w;
}

template <typename T> __global__ void resize_forward_kernel(const T* __restrict__ x, T* __restrict__ y, ResizeShape s) {
  ATROUS_GRID_STRIDE(i, s.batch * s.out_h * s.out_w * s.channels) {
    const int64_t c = i % s.channels;
    int64_t rest = i / s.channels;
    const int64_t ox = rest % s.out_w;
    rest /= s.out_w;
    const int64_t oy = rest % s.out_h;
    const int64_t n = rest / s.out_h;
    const Tap ty = axis_tap(oy, s.in_h, s.out_h, s.align_corners);
    const Tap tx = axis_tap(ox, s.in_w, s.out_w, s.align_corners);
    const T wx1 = static_cast<T>(tx.frac), wx0 = static_cast<T>(1.0 - tx.frac);
    const T wy1 = static_cast<T>(ty.frac), wy0 = static_cast<T>(1.0 - ty.frac);
    const T* image = x + n * s.in_h * s.in_w * s.channels + c;
    const T* row0 = image + ty.lo * s.in_w * s.channels;
    const T* row1 = image + ty.hi * s.in_w * s.channels;
    const T top = wx0 * row0[tx.lo * s.channels] + wx1 * row0[tx.hi * s.channels];
    const T bottom = wx0 * row1[tx.lo * s.channels] + wx1 * row1[tx.hi * s.channels];
    y[i] = wy0 * top + wy1 * bottom;
  }
}

template <typename T>
__global__ void resize_backward_kernel(const T* __restrict__ dy, T* __restrict__ dx, ResizeShape s) {
  ATROUS_GRID_STRIDE(i, s.batch * s.in_h * s.in_w * s.channels) {
    const int64_t c = i % s.channels;
    int64_t rest = i / s.channels;
    const int64_t ix = rest % s.in_w;
    rest /= s.in_w;
    const int64_t iy = rest % s.in_h;
    const int64_t n = rest / s.in_h;
    // Outputs reading input row iy have lo == iy or (hi == iy, lo == iy - 1): a contiguous range.
    const int64_t oy0 = first_output_with_lo_at_least(iy - 1, s.in_h, s.out_h, s.align_corners);
    const int64_t oy1 = first_output_with_lo_at_least(iy + 1, s.in_h, s.out_h, s.align_corners);
    const int64_t ox0 = first_output_with_lo_at_least(ix - 1, s.in_w, s.out_w, s.align_corners);
    const int64_t ox1 = first_output_with_lo_at_least(ix + 1, s.in_w, s.out_w, s.align_corners);
    const T* image = dy + n * s.out_h * s.out_w * s.channels + c;
    T acc = T(0);
    for (int64_t oy = oy0; oy < oy1; ++oy) {
      const T wy = tap_weight<T>(axis_tap(oy, s.in_h, s.out_h, s.align_corners), iy);
      if (wy == T(0)) continue;
      T row = T(0);
      for (int64_t ox = ox0; ox < ox1; ++ox) {
        const T wx = tap_weight<T>(axis_tap(ox, s.in_w, s.out_w, s.align_corners), ix);
        row += wx * image[(oy * s.out_w + ox) * s.channels];
      }
      acc += wy * row;
    }
    dx[i] = acc;
  }
}

}  // namespace

template <typename T> void resize_bilinear_forward(int device, const T* x, T* y, const ResizeShape& s) {
  const int64_t n = s.batch * s.out_h * s.out_w * s.channels;
  if (n == 0) return;
  launch_1d("resize_forward_kernel", n, device, resize_forward_kernel<T>, x, y, s);
}

template <typename T> void resize_bilinear_backward(int device, const T* dy, T* dx, const ResizeShape& s) {
  const int64_t n = s.batch * s.in_h * s.in_w * s.channels;
  if (n == 0) return;
  launch_1d("resize_backward_kernel", n, device, resize_backward_kernel<T>, dy, dx, s);
}

template void resize_bilinear_forward<float>(int, const float*, float*, const ResizeShape&);
template void resize_bilinear_forward<double>(int, const double*, double*, const ResizeShape&);
template void resize_bilinear_backward<float>(int, const float*, float*, const ResizeShape&);
template void resize_bilinear_backward<double>(int, const double*, double*, const ResizeShape&);

}  // namespace atrous::kernels::cuda
