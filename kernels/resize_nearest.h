// Nearest-neighbour resize on NHWC arrays (label maps are [N,H,W]: one channel): a gather of whole elements, so
// every device produces the same bits. Each output pixel takes the input pixel nearest to where bilinear resize
// samples (kernels/resize.h's resize_source_index, rounded half up), so subsampled labels line up with bilinear
// logits in both align_corners conventions.
#pragma once
#include <cstdint>

#include "core/host_device.h"
#include "kernels/resize.h"

namespace atrous::kernels {

struct NearestShape {
  int64_t batch = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0, channels = 0;
  bool align_corners = false;
};

ATROUS_HOST_DEVICE inline int64_t nearest_source_index(int64_t dst, int64_t in, int64_t out, bool align_corners) {
  // The source index is >= 0, so truncation rounds it half up.
  const int64_t nearest = static_cast<int64_t>(resize_source_index(dst, in, out, align_corners) + 0.5);
  return nearest < in - 1 ? nearest : in - 1;
}

// Word is an unsigned integer of the element's size (uint8_t, uint32_t, uint64_t): elements are copied, never read
// as numbers, so one instantiation serves every dtype of that size.
template <typename Word> void resize_nearest_cpu(const Word* x, Word* y, const NearestShape& s);

namespace cuda {

// The CUDA launcher (kernels/cuda/resize_nearest.cu): the CPU kernel's twin on device pointers on `device`.
template <typename Word> void resize_nearest(int device, const Word* x, Word* y, const NearestShape& s);

}  // namespace cuda

}  // namespace atrous::kernels
