// Nearest-neighbour resize, CUDA: one thread per output element, the same source indices as the CPU kernel.
#include "kernels/resize_nearest.h"

#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

template <typename Word>
__global__ void resize_nearest_kernel(const Word* __restrict__ x, Word* __restrict__ y, NearestShape s) {
  const int64_t C = s.channels;
  ATROUS_GRID_STRIDE(i, s.batch * s.out_h * s.out_w * C) {
    const int64_t c = i % C, ox = (i / C) % s.out_w, oy = (i / (C * s.out_w)) % s.out_h;
    const int64_t n = i / (C * s.out_w * s.out_h);
    const int64_t iy = nearest_source_index(oy, s.in_h, s.out_h, s.align_corners);
    const int64_t ix = nearest_source_index(ox, s.in_w, s.out_w, s.align_corners);
    y[i] = x[((n * s.in_h + iy) * s.in_w + ix) * C + c];
  }
}

}  // namespace

template <typename Word> void resize_nearest(int device, const Word* x, Word* y, const NearestShape& s) {
  const int64_t total = s.batch * s.out_h * s.out_w * s.channels;
  if (total == 0) return;
  launch_1d("resize_nearest_kernel", total, device, resize_nearest_kernel<Word>, x, y, s);
}

template void resize_nearest<uint8_t>(int, const uint8_t*, uint8_t*, const NearestShape&);
template void resize_nearest<uint32_t>(int, const uint32_t*, uint32_t*, const NearestShape&);
template void resize_nearest<uint64_t>(int, const uint64_t*, uint64_t*, const NearestShape&);

}  // namespace atrous::kernels::cuda
