// Concat / split along the innermost axis, CPU: each row is a few contiguous copies; rows spread over threads.
#include <cstring>

#include "kernels/concat.h"

namespace atrous::kernels {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 15;

int64_t total_width(const int64_t* widths, int64_t pieces) {
  int64_t total = 0;
  for (int64_t k = 0; k < pieces; ++k) total += widths[k];
  return total;
}

}  // namespace

template <typename T>
void concat_last_axis_cpu(const T* const* inputs, const int64_t* widths, int64_t pieces, int64_t rows, T* out) {
  const int64_t width = total_width(widths, pieces);
#pragma omp parallel for schedule(static) if (rows * width > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    T* dst = out + r * width;
    for (int64_t k = 0; k < pieces; ++k) {
      std::memcpy(dst, inputs[k] + r * widths[k], widths[k] * sizeof(T));
      dst += widths[k];
    }
  }
}

template <typename T>
void split_last_axis_cpu(const T* in, int64_t rows, T* const* outputs, const int64_t* widths, int64_t pieces) {
  const int64_t width = total_width(widths, pieces);
#pragma omp parallel for schedule(static) if (rows * width > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = in + r * width;
    for (int64_t k = 0; k < pieces; ++k) {
      if (outputs[k]) std::memcpy(outputs[k] + r * widths[k], src, widths[k] * sizeof(T));
      src += widths[k];
    }
  }
}

#define ATROUS_INSTANTIATE(T)                                                                              \
  template void concat_last_axis_cpu<T>(const T* const*, const int64_t*, int64_t, int64_t, T*);           \
  template void split_last_axis_cpu<T>(const T*, int64_t, T* const*, const int64_t*, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)
ATROUS_INSTANTIATE(int32_t)
ATROUS_INSTANTIATE(uint8_t)

}  // namespace atrous::kernels
