// Argmax over the innermost axis of a [rows, cols] array: score maps to label maps.
#pragma once
#include <cstdint>

namespace atrous::kernels {

// out[r] = index of the largest x[r, :]; ties pick the lowest index, and NaN counts as the largest (as in
// PyTorch), so a NaN score is visible in the label map rather than silently skipped. cols >= 1.
template <typename T> void argmax_last_axis_cpu(const T* x, int32_t* out, int64_t rows, int64_t cols);

namespace cuda {

// The CUDA launchers (kernels/cuda/argmax.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). T is float or double.
template <typename T> void argmax_last_axis(int device, const T* x, int32_t* out, int64_t rows, int64_t cols);

}  // namespace cuda

}  // namespace atrous::kernels
