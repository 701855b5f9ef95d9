// Copies that are not a plain memcpy, CUDA: a strided view gathered into (or scattered from) contiguous memory, one
// thread per element walking the view's index from its logical position, and element-wise dtype conversion with
// the same static_cast the CPU uses.
#include "core/cuda/copy.h"

#include <type_traits>

#include "core/cuda/launch.cuh"

namespace atrous::cuda {
namespace {

// Offset (in elements) of the view element at logical position i.
__device__ inline int64_t view_offset(int64_t i, const StridedLayout& layout) {
  int64_t offset = 0;
  for (int d = layout.rank - 1; d >= 0; --d) {
    const int64_t extent = layout.shape[d];
    offset += (i % extent) * layout.strides[d];
    i /= extent;
  }
  return offset;
}

template <typename E>
__global__ void gather_kernel(const E* __restrict__ src, StridedLayout layout, E* __restrict__ dst, int64_t n) {
  ATROUS_GRID_STRIDE(i, n) dst[i] = src[view_offset(i, layout)];
}

template <typename E>
__global__ void scatter_kernel(const E* __restrict__ src, E* __restrict__ dst, StridedLayout layout, int64_t n) {
  ATROUS_GRID_STRIDE(i, n) dst[view_offset(i, layout)] = src[i];
}

template <typename From, typename To>
__global__ void convert_kernel(const From* __restrict__ src, To* __restrict__ dst, int64_t n) {
  ATROUS_GRID_STRIDE(i, n) dst[i] = static_cast<To>(src[i]);
}

int64_t element_count(const StridedLayout& layout) {
  int64_t n = 1;
  for (int d = 0; d < layout.rank; ++d) n *= layout.shape[d];
  return n;
}

// Calls fn(E{}) with an unsigned type of element_size bytes.
template <typename Fn>
void dispatch_size(size_t element_size, const char* op, Fn&& fn) {
  switch (element_size) {
    case 1:
      return fn(uint8_t{});
    case 2:
      return fn(uint16_t{});
    case 4:
      return fn(uint32_t{});
    case 8:
      return fn(uint64_t{});
    default:
      ATROUS_FAIL(op, ": element size ", element_size, " is not 1, 2, 4 or 8");
  }
}

template <typename Fn>
void dispatch_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32:
      return fn(float{});
    case DType::f64:
      return fn(double{});
    case DType::i32:
      return fn(int32_t{});
    case DType::u8:
      return fn(uint8_t{});
  }
}

}  // namespace

void gather_strided(int device, const void* src, const StridedLayout& layout, void* dst, size_t element_size) {
  const int64_t n = element_count(layout);
  if (n == 0) return;
  dispatch_size(element_size, "gather_strided", [&](auto tag) {
    using E = decltype(tag);
    launch_1d("gather_strided_kernel", n, device, gather_kernel<E>, static_cast<const E*>(src), layout,
              static_cast<E*>(dst), n);
  });
}

void scatter_strided(int device, const void* src, void* dst, const StridedLayout& layout, size_t element_size) {
  const int64_t n = element_count(layout);
  if (n == 0) return;
  dispatch_size(element_size, "scatter_strided", [&](auto tag) {
    using E = decltype(tag);
    launch_1d("scatter_strided_kernel", n, device, scatter_kernel<E>, static_cast<const E*>(src), static_cast<E*>(dst),
              layout, n);
  });
}

void convert_dtype(int device, const void* src, DType from, void* dst, DType to, int64_t n) {
  if (n == 0) return;
  dispatch_dtype(from, [&](auto from_tag) {
    using From = decltype(from_tag);
    dispatch_dtype(to, [&](auto to_tag) {
      using To = decltype(to_tag);
      launch_1d("convert_dtype_kernel", n, device, convert_kernel<From, To>, static_cast<const From*>(src),
                static_cast<To*>(dst), n);
    });
  });
}

}  // namespace atrous::cuda
