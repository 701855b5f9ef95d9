// Inverted-dropout kernel driven by the counter-based Philox stream of core/random.h.
#pragma once
#include <cstdint>

namespace atrous::kernels {

// y[i] = x[i] * scale where philox_uniform(seed, offset, i) >= threshold, else 0. The comparison is in float
// (threshold = float(p)) so the CUDA kernel reproduces the mask bit for bit. Backward is the same call on dy.
template <typename T>
void dropout_cpu(const T* x, int64_t n, float threshold, T scale, uint64_t seed, uint64_t offset, T* y);

namespace cuda {

// The CUDA launchers (kernels/cuda/dropout.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). T is float or double.

// Same Philox stream and float comparison as dropout_cpu: identical masks on both devices.
template <typename T>
void dropout(int device, const T* x, int64_t n, float threshold, T scale, uint64_t seed, uint64_t offset, T* y);

}  // namespace cuda

}  // namespace atrous::kernels
