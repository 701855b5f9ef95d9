// Permutohedral lattice on the CPU, filtering (the build is in crf/lattice_build.cpp): one OpenMP region per filter
// whose loops run over a compile-time value width where the width is a common one (8..32 floats: 21 VOC labels pad
// to 24).
//
// The splat scatters in pixel order, each thread into its own copy of the lattice values, and the copies are then
// summed in thread order. A gather per vertex (no copies) was tried first and was ~3x slower for the bilateral
// kernel: a vertex's pixels lie far apart in the image (sigma_xy ~ 100 px), so the gather reads label rows all
// over memory, while the scatter reads them in order and writes a lattice small enough to stay in cache.
#include "crf/permutohedral_lattice.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "crf/lattice_rows.h"

namespace atrous::crf {
namespace {
// Below this many floats of work per pass a filter runs on one thread: a filter has 2d+4 barriers, which cost more
// than small images' work, and far more when the machine is oversubscribed.
constexpr int64_t kParallelFilterFloats = 1 << 18;

// ---- filter passes; S > 0 is the value width known at compile time, S == 0 reads it from `stride` ----

struct FilterArgs {
  const PermutohedralLattice* lattice;
  int d1;
  int64_t n, m, stride;
  const int32_t* vertex;
  const float* weight;
  float alpha;
  const float* in;
  const float* pre;
  const float* post;
  float* out;
  float* buffer_a;  // (m + 1) * stride each, row m zero
  float* buffer_b;
  float* thread_copies;  // (threads - 1) * m * stride: the other threads' splat targets
};

template <int S>
void run_filter(const FilterArgs& a, int threads) {
#pragma omp parallel num_threads(threads)
  {
    const int team = omp_get_num_threads(), t = omp_get_thread_num();
    float* mine = t == 0 ? a.buffer_a : a.thread_copies + (t - 1) * a.m * a.stride;
    std::fill(mine, mine + a.m * a.stride, 0.0f);
    for (int64_t i = a.n * t / team; i < a.n * (t + 1) / team; ++i)
      rows::splat<S>(a.d1, a.vertex + i * a.d1, a.weight + i * a.d1, a.pre ? a.pre[i] : 1.0f, a.in + i * a.stride,
                     a.stride, mine);
#pragma omp barrier
    sum_thread_copies(a.buffer_a, a.thread_copies, a.m * a.stride, team);
    const float* blurred = a.lattice->blur(a.buffer_a, a.buffer_b, a.stride);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < a.n; ++i) {
      float* dst = a.out + i * a.stride;
      std::fill(dst, dst + a.stride, 0.0f);  // out may alias in: every thread has finished splatting
      rows::slice_add<S>(a.d1, a.vertex + i * a.d1, a.weight + i * a.d1, a.post ? a.alpha * a.post[i] : a.alpha,
                         blurred, a.stride, dst);
    }
  }
}

template <int S>
void blur_directions(const PermutohedralLattice& lattice, float*& src, float*& dst, int64_t stride) {
  const int64_t m = lattice.num_points();
  for (int j = 0; j <= lattice.dims(); ++j) {
    const int32_t* neighbours = lattice.blur_neighbours() + static_cast<int64_t>(j) * m * 2;
#pragma omp for schedule(static)
    for (int64_t p = 0; p < m; p += 64) rows::blur<S>(p, std::min(p + 64, m), neighbours, src, stride, dst);
    std::swap(src, dst);
  }
}

}  // namespace

void sum_thread_copies(float* total, const float* copies, int64_t size, int team) {
  if (team <= 1) return;
#pragma omp for schedule(static)
  for (int64_t p = 0; p < size; p += 4096) {
    const int64_t end = std::min(p + 4096, size);
    for (int u = 1; u < team; ++u) {
      const float* copy = copies + (u - 1) * size;
#pragma omp simd
      for (int64_t e = p; e < end; ++e) total[e] += copy[e];
    }
  }
}

size_t PermutohedralLattice::memory_bytes() const { return vertex_.bytes() + weight_.bytes() + neighbours_.bytes(); }

float PermutohedralLattice::slice_scale() const { return 1.0f / (1.0f + std::pow(2.0f, -static_cast<float>(d_))); }

void PermutohedralLattice::filter(const float* in, float* out, int64_t stride, const float* pre_scale,
                                  const float* post_scale, HostArray<float>& scratch) const {
  ATROUS_CHECK(m_ > 0, "permutohedral lattice: filter called before build");
  ATROUS_CHECK(stride >= 1, "permutohedral lattice: value stride must be positive, got ", stride);
  const int64_t rows = m_ + 1;  // + the zero row that missing neighbours read
  const bool parallel = std::max(n_, m_) * stride > kParallelFilterFloats;
  const int threads = parallel ? std::max(1, omp_get_max_threads()) : 1;
  const int64_t need = (2 * rows + (threads - 1) * m_) * stride;
  if (scratch.size() < need) scratch = HostArray<float>(need);
  FilterArgs a{this,
               d_ + 1,
               n_,
               m_,
               stride,
               vertex_.data(),
               weight_.data(),
               slice_scale(),
               in,
               pre_scale,
               post_scale,
               out,
               scratch.data(),
               scratch.data() + rows * stride,
               scratch.data() + 2 * rows * stride};
  std::fill(a.buffer_a + m_ * stride, a.buffer_a + rows * stride, 0.0f);
  std::fill(a.buffer_b + m_ * stride, a.buffer_b + rows * stride, 0.0f);
  switch (stride) {
    case 1: run_filter<1>(a, threads); break;  // the normalisation's D = K 1
    case 8: run_filter<8>(a, threads); break;
    case 16: run_filter<16>(a, threads); break;
    case 24: run_filter<24>(a, threads); break;
    case 32: run_filter<32>(a, threads); break;
    default: run_filter<0>(a, threads); break;
  }
}

float* PermutohedralLattice::blur(float* values, float* spare, int64_t stride) const {
  switch (stride) {
    case 1: blur_directions<1>(*this, values, spare, stride); break;
    case 8: blur_directions<8>(*this, values, spare, stride); break;
    case 16: blur_directions<16>(*this, values, spare, stride); break;
    case 24: blur_directions<24>(*this, values, spare, stride); break;
    case 32: blur_directions<32>(*this, values, spare, stride); break;
    default: blur_directions<0>(*this, values, spare, stride); break;
  }
  return values;
}

}  // namespace atrous::crf
