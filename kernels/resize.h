// Bilinear resize kernels on NHWC arrays: forward and backward (a gather, no atomics), both separable by axis.
#pragma once
#include <cstdint>

#include "core/host_device.h"

namespace atrous::kernels {

struct ResizeShape {
  int64_t batch = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0, channels = 0;
  bool align_corners = false;
};

// Where output index `dst` samples the input axis (in elements, >= 0). align_corners=true maps the corner pixels
// onto each other: dst * (in-1)/(out-1), 0 when out == 1. false uses half-pixel centres, (dst + 0.5) * in/out - 0.5,
// clamped below at 0 (PyTorch's rule when given a size). The upper neighbour is clamped at in-1 by the kernels.
// The one formula: the CPU and CUDA kernels and the loss's nearest-neighbour label resize all use it.
ATROUS_HOST_DEVICE inline double resize_source_index(int64_t dst, int64_t in, int64_t out, bool align_corners) {
  if (align_corners) {
    return out > 1 ? static_cast<double>(dst) * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  }
  const double src = (static_cast<double>(dst) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
  return src > 0.0 ? src : 0.0;
}

// Scratch sizes, in elements of T: per OpenMP thread, two output-width rows (forward) or one (backward). Callers
// pass the workspace in so that the caching allocator, not a fresh mmap, provides it.
int64_t resize_bilinear_forward_workspace_size(const ResizeShape& s);
int64_t resize_bilinear_backward_workspace_size(const ResizeShape& s);

template <typename T> void resize_bilinear_forward_cpu(const T* x, T* y, T* workspace, const ResizeShape& s);
// dx is fully written (no need to zero it).
template <typename T> void resize_bilinear_backward_cpu(const T* dy, T* dx, T* workspace, const ResizeShape& s);

namespace cuda {

// The CUDA launchers (kernels/cuda/resize.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). T is float or double.
// Backward is a gather: deterministic, no atomics.
template <typename T> void resize_bilinear_forward(int device, const T* x, T* y, const ResizeShape& s);
template <typename T> void resize_bilinear_backward(int device, const T* dy, T* dx, const ResizeShape& s);

}  // namespace cuda

}  // namespace atrous::kernels
