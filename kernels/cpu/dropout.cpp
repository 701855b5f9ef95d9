// Inverted-dropout CPU kernel: the keep mask comes from Philox by element index, so it is independent of threading.
#include "kernels/dropout.h"

#include "core/random.h"

namespace atrous::kernels {

constexpr int64_t kParallelThreshold = 1 << 15;

template <typename T>
void dropout_cpu(const T* x, int64_t n, float threshold, T scale, uint64_t seed, uint64_t offset, T* y) {
  if (offset % 4 != 0) {
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = philox_uniform(seed, offset, i) >= threshold ? x[i] * scale : T(0);
    return;
  }
  // A block-aligned stream (Generator::reserve keeps them so): one Philox call yields the numbers of four elements.
  const int64_t blocks = (n + 3) / 4;
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const Philox4 bits = philox4x32((offset >> 2) + static_cast<uint64_t>(b), seed);
    const int64_t first = 4 * b;
    const int64_t count = n - first < 4 ? n - first : 4;
    for (int64_t j = 0; j < count; ++j)
      y[first + j] = uniform_from_bits(bits.v[j]) >= threshold ? x[first + j] * scale : T(0);
  }
}

template void dropout_cpu<float>(const float*, int64_t, float, float, uint64_t, uint64_t, float*);
template void dropout_cpu<double>(const double*, int64_t, float, double, uint64_t, uint64_t, double*);

}  // namespace atrous::kernels
