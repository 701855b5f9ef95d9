// find_enclosing_simplex (crf/lattice_embedding.h) for eight points at once, one per vector lane: the same float
// operations in the same order, so every lane's simplex is the scalar one (tests/test_crf_lattice.cpp checks it; the
// weights agree up to float rounding, as the compiler fuses some multiply-adds in one and not the other), but
// branch-free and in registers. The scalar version spends most of its time on data-dependent
// branches (the rounding correction) and on rank counters it updates through memory; the CPU lattice's build
// embeds every pixel (about a third of the CRF's build time at VOC size before).
#pragma once
#include <cstdint>

#include "crf/lattice_embedding.h"

namespace atrous::crf {

constexpr int kSimplexLanes = 8;

template <int D>
struct SimplexLanes {
  using F = float __attribute__((vector_size(kSimplexLanes * sizeof(float))));
  using I = int32_t __attribute__((vector_size(kSimplexLanes * sizeof(int32_t))));
  I rem0[D + 1];
  I rank[D + 1];
  F barycentric[D + 1];

  // Lane `lane` as the scalar function's result.
  void extract(int lane, EnclosingSimplex<D>& s) const {
    for (int i = 0; i <= D; ++i) {
      s.rem0[i] = rem0[i][lane];
      s.rank[i] = rank[i][lane];
      s.barycentric[i] = barycentric[i][lane];
    }
  }
};

namespace simplex_lanes_detail {

// floor and ceil of |v| < 2^31 through integer truncation (exact there; there is no vector floor without SSE4.1
// intrinsics, and the lattice rejects features anywhere near that size).
template <typename F, typename I>
inline F floor_lanes(F v) {
  const F t = __builtin_convertvector(__builtin_convertvector(v, I), F);
  return t > v ? t - 1.0f : t;
}
template <typename F, typename I>
inline F ceil_lanes(F v) {
  const F t = __builtin_convertvector(__builtin_convertvector(v, I), F);
  return t < v ? t + 1.0f : t;
}

}  // namespace simplex_lanes_detail

// scaled[j]: feature j of the eight points times lattice_axis_scale(D, j). Step by step find_enclosing_simplex.
template <int D>
inline void find_enclosing_simplices(const typename SimplexLanes<D>::F (&scaled)[D], SimplexLanes<D>& s) {
  using F = typename SimplexLanes<D>::F;
  using I = typename SimplexLanes<D>::I;
  using namespace simplex_lanes_detail;
  constexpr int d1 = D + 1;
  F elevated[D + 1];
  F partial = {};
  for (int i = D; i > 0; --i) {
    const F cf = scaled[i - 1];
    elevated[i] = partial - static_cast<float>(i) * cf;
    partial += cf;
  }
  elevated[0] = partial;

  const float inv_d1 = 1.0f / static_cast<float>(d1);
  I sum = {};
  for (int i = 0; i <= D; ++i) {
    const F v = elevated[i] * inv_d1;
    const F up = ceil_lanes<F, I>(v) * static_cast<float>(d1);
    const F down = floor_lanes<F, I>(v) * static_cast<float>(d1);
    s.rem0[i] = __builtin_convertvector(up - elevated[i] < elevated[i] - down ? up : down, I);
    sum += s.rem0[i];
    s.rank[i] = I{};
  }
  F error[D + 1];
  for (int i = 0; i <= D; ++i) error[i] = elevated[i] - __builtin_convertvector(s.rem0[i], F);
  for (int i = 0; i < D; ++i) {
    for (int j = i + 1; j <= D; ++j) {
      const I smaller = error[i] < error[j];  // -1 where true
      s.rank[i] -= smaller;
      s.rank[j] += smaller + 1;
    }
  }
  // The rounding correction, as masks: sum is a multiple of d1, so the float quotient is exact.
  sum = __builtin_convertvector(__builtin_convertvector(sum, F) / static_cast<float>(d1), I);
  const I positive = sum > 0, negative = sum < 0;
  for (int i = 0; i <= D; ++i) {
    const I down_a_step = positive & (s.rank[i] >= d1 - sum);
    const I up_a_step = negative & (s.rank[i] < -sum);
    const I move = (up_a_step & d1) - (down_a_step & d1);
    s.rem0[i] += move;
    s.rank[i] += sum + move;
  }
  // Barycentric weights: weight k gains the scaled error of the coordinate ranked d-k and loses that of the one
  // ranked d+1-k (one each, as the scalar loop's += and -=, whose order does not change the sum).
  F v[D + 1];
  for (int i = 0; i <= D; ++i) v[i] = (elevated[i] - __builtin_convertvector(s.rem0[i], F)) * inv_d1;
  F of_rank[D + 1];  // of_rank[r]: v of the coordinate ranked r
  for (int r = 0; r <= D; ++r) {
    of_rank[r] = F{};
    for (int i = 0; i <= D; ++i) of_rank[r] = s.rank[i] == r ? v[i] : of_rank[r];
  }
  for (int k = 1; k <= D; ++k) s.barycentric[k] = (0.0f + of_rank[D - k]) - of_rank[D + 1 - k];
  s.barycentric[0] = (0.0f + of_rank[D]) + (1.0f + (0.0f - of_rank[0]));
}

}  // namespace atrous::crf
