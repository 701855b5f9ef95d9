// Dropout, CUDA: the keep mask drawn from the Philox stream of core/random.h, as the CPU draws it.
#include "kernels/dropout.h"

#include "core/random.h"
#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

template <typename T>
__global__ void dropout_kernel(const T* __restrict__ x, int64_t n, float threshold, T scale, uint64_t seed,
                               uint64_t offset, T* __restrict__ y) {
  ATROUS_GRID_STRIDE(i, n) {
    const bool keep = philox_uniform(seed, offset, static_cast<uint64_t>(i)) >= threshold;
    y[i] = keep ? x[i] * scale : T(0);
  }
}

}  // namespace

template <typename T>
void dropout(int device, const T* x, int64_t n, float threshold, T scale, uint64_t seed, uint64_t offset, T* y) {
  if (n == 0) return;
  launch_1d("dropout_kernel", n, device, dropout_kernel<T>, x, n, threshold, scale, seed, offset, y);
}

template void dropout<float>(int, const float*, int64_t, float, float, uint64_t, uint64_t, float*);
template void dropout<double>(int, const double*, int64_t, float, double, uint64_t, uint64_t, double*);

}  // namespace atrous::kernels::cuda
