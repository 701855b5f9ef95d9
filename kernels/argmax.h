// Argmax over the innermost axis of a [rows, cols] array: score maps to label maps.
#pragma once
#include <cstdint>

namespace atrous::kernels {

// out[r] = index of the largest x[r, :]; ties pick the lowest index, and NaN counts as the largest (as in
// PyTorch), so a NaN score is visible in the label map rather than silently skipped. cols >= 1.
template <typename T> void argmax_last_axis_cpu(const T* x, int32_t* out, int64_t rows, int64_t cols);

}  // namespace atrous::kernels
