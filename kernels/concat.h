// Concatenation along the innermost axis and its inverse (splitting a gradient back into pieces), on row-major
// arrays viewed as [rows, width_k] blocks.
#pragma once
#include <cstdint>

namespace atrous::kernels {

// out[r, offset_k + j] = inputs[k][r, j] for every piece k; out has sum(widths) columns.
template <typename T>
void concat_last_axis_cpu(const T* const* inputs, const int64_t* widths, int64_t pieces, int64_t rows, T* out);
// outputs[k][r, j] = in[r, offset_k + j]; a null outputs[k] is skipped (nobody needs that gradient).
template <typename T>
void split_last_axis_cpu(const T* in, int64_t rows, T* const* outputs, const int64_t* widths, int64_t pieces);

namespace cuda {

// The CUDA launchers (kernels/cuda/concat.cu): the *_cpu kernels' twins on device pointers on `device`, queued on
// that device's stream (the CPU kernel is their oracle in the tests). One 2-D copy per piece; T is float, double,
// int32_t or uint8_t (concat_channels takes integer tensors too).
template <typename T>
void copy_columns(int device, const T* src, int64_t src_cols, int64_t src_offset, T* dst, int64_t dst_cols,
                  int64_t dst_offset, int64_t rows, int64_t width);

}  // namespace cuda

}  // namespace atrous::kernels
