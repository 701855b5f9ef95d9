// Device copies Tensor needs (core/tensor.cpp): a strided view gathered into contiguous memory or scattered from it,
// and element-wise dtype conversion. Pointers are device pointers on `device`; the work is queued on its stream.
// Implemented in core/cuda/copy.cu. Plain C++: core/tensor.cpp includes it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace atrous::cuda {

// A view's layout in elements: shape and strides of up to kMaxCopyRank dimensions.
constexpr int kMaxCopyRank = 8;
struct StridedLayout {
  int rank = 0;
  int64_t shape[kMaxCopyRank] = {};
  int64_t strides[kMaxCopyRank] = {};
};
// dst (contiguous, logical order) = the elements of the view at src with `layout`; element_size is 1, 2, 4 or 8.
void gather_strided(int device, const void* src, const StridedLayout& layout, void* dst, size_t element_size);
// The view at dst with `layout` = src (contiguous, logical order).
void scatter_strided(int device, const void* src, void* dst, const StridedLayout& layout, size_t element_size);
// dst[i] = static_cast<To>(src[i]) for n contiguous elements, as the CPU's to(dtype) converts.
void convert_dtype(int device, const void* src, DType from, void* dst, DType to, int64_t n);

}  // namespace atrous::cuda
