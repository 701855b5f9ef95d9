// The permutohedral filter's work on one row of values (a pixel's or a lattice vertex's labels), vectorised over the
// row in 8-float vectors: splat, slice, one blur step, and the mean field's softmax. Shared by
// PermutohedralLattice::filter (whole passes) and the fused mean field (all passes of a pixel at once).
//
// S is the row width when it is known at compile time (a multiple of 8 up to 32: up to 32 labels, every loop then
// unrolls into registers; or 1, the normalisation's single value), 0 when it is read at run time (any width; plain
// loops the compiler vectorises). GCC's vector extensions compile to AVX-512/AVX2/SSE as the build targets
// (-march=native by default), so one source serves every x86 CPU.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/cpu/fast_exp.h"

namespace atrous::crf::rows {

constexpr int kLanes = 8;
// Whether rows of S floats take the vector code.
template <int S>
constexpr bool kVectorRows = S > 0 && S % kLanes == 0;

using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));
using IntVec = int32_t __attribute__((vector_size(kLanes * sizeof(int32_t))));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(v));  // an unaligned vector load
  return v;
}
inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof(v)); }
inline Vec broadcast(float x) { return Vec{} + x; }

// dst += w * src.
template <int S>
inline void add_scaled(float* dst, const float* src, float w, int64_t stride) {
  if constexpr (kVectorRows<S>) {
    const Vec wv = broadcast(w);
    for (int c = 0; c < S / kLanes; ++c) store(dst + c * kLanes, load(dst + c * kLanes) + wv * load(src + c * kLanes));
  } else {
    const int64_t s = S > 0 ? S : stride;
#pragma omp simd
    for (int64_t c = 0; c < s; ++c) dst[c] += w * src[c];
  }
}

// Splat: adds scale * weight_k * values to the d+1 vertices of one pixel's simplex.
template <int S>
inline void splat(int d1, const int32_t* vertex, const float* weight, float scale, const float* values,
                  int64_t stride, float* lattice) {
  const int64_t s = S > 0 ? S : stride;
  for (int k = 0; k < d1; ++k) add_scaled<S>(lattice + static_cast<int64_t>(vertex[k]) * s, values, weight[k] * scale, s);
}

// Slice: dst += scale * sum_k weight_k * lattice[vertex_k] for one pixel.
template <int S>
inline void slice_add(int d1, const int32_t* vertex, const float* weight, float scale, const float* lattice,
                      int64_t stride, float* dst) {
  const int64_t s = S > 0 ? S : stride;
  if constexpr (kVectorRows<S>) {
    Vec acc[S / kLanes] = {};
    for (int k = 0; k < d1; ++k) {
      const Vec w = broadcast(weight[k]);
      const float* src = lattice + static_cast<int64_t>(vertex[k]) * s;
      for (int c = 0; c < S / kLanes; ++c) acc[c] += w * load(src + c * kLanes);
    }
    const Vec sv = broadcast(scale);
    for (int c = 0; c < S / kLanes; ++c) store(dst + c * kLanes, load(dst + c * kLanes) + sv * acc[c]);
  } else {
    for (int k = 0; k < d1; ++k) add_scaled<S>(dst, lattice + static_cast<int64_t>(vertex[k]) * s, weight[k] * scale, s);
  }
}

// One blur step of vertex rows [p0, p1) along one lattice direction: out = self + (left + right) / 2, the [1 2 1]
// kernel up to a factor 2 that the slice's constant absorbs. Missing neighbours point at an all-zero row.
template <int S>
inline void blur(int64_t p0, int64_t p1, const int32_t* neighbours, const float* src, int64_t stride, float* dst) {
  const int64_t s = S > 0 ? S : stride;
  for (int64_t p = p0; p < p1; ++p) {
    const float* self = src + p * s;
    const float* left = src + static_cast<int64_t>(neighbours[2 * p]) * s;
    const float* right = src + static_cast<int64_t>(neighbours[2 * p + 1]) * s;
    float* out = dst + p * s;
    if constexpr (kVectorRows<S>) {
      const Vec half = broadcast(0.5f);
      for (int c = 0; c < S / kLanes; ++c)
        store(out + c * kLanes, load(self + c * kLanes) + half * (load(left + c * kLanes) + load(right + c * kLanes)));
    } else {
#pragma omp simd
      for (int64_t c = 0; c < s; ++c) out[c] = self[c] + 0.5f * (left[c] + right[c]);
    }
  }
}

// e[l] -= w * sum_l2 mu(l, l2) message[l2]: a matrix compatibility's energy from its filtered message (Potts
// terms need no matrix: their message adds to the energy as it is).
inline void subtract_compatibility(const float* mu, int labels, float w, const float* message, float* e) {
  for (int l = 0; l < labels; ++l) {
    float m = 0.0f;
    for (int l2 = 0; l2 < labels; ++l2) m += mu[l * labels + l2] * message[l2];
    e[l] -= w * m;
  }
}

// e^x for x in [-87, 0] (the caller clamps), ~2 ulp: kernels::fast_exp's polynomial on a vector.
inline Vec exp_clamped(Vec x) { return kernels::exp_in_range<Vec, IntVec>(x); }

// Every lane of the result holds the maximum (minimum, sum) of v's lanes: three butterfly steps, not a scalar chain.
inline Vec max_across(Vec v) {
  Vec t = __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
  v = v > t ? v : t;
  t = __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
  v = v > t ? v : t;
  t = __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
  return v > t ? v : t;
}
inline IntVec min_across(IntVec v) {
  IntVec t = __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
  v = v < t ? v : t;
  t = __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
  v = v < t ? v : t;
  t = __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
  return v < t ? v : t;
}
inline Vec sum_across(Vec v) {
  v += __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
  v += __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
  return v + __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
}

// The index of the first lane of a row of V vectors that holds its largest value (std::max_element's answer, for
// rows without NaN), branch-free: the lanes equal to the maximum keep their index, the others a larger one, and the
// smallest index wins.
template <int V>
inline int argmax(const float* row) {
  Vec top = load(row);
  for (int c = 1; c < V; ++c) {
    const Vec v = load(row + c * kLanes);
    top = v > top ? v : top;
  }
  top = max_across(top);
  const IntVec lane = {0, 1, 2, 3, 4, 5, 6, 7};
  IntVec first = IntVec{} + V * kLanes;
  for (int c = 0; c < V; ++c) {
    const IntVec index = load(row + c * kLanes) == top ? lane + c * kLanes : IntVec{} + V * kLanes;
    first = index < first ? index : first;
  }
  return min_across(first)[0];
}

// e <- softmax(e) for a row of V vectors held in registers, as softmax() below.
template <int V>
inline void softmax_registers(Vec (&e)[V]) {
  const Vec floor = broadcast(-87.0f);
  Vec top = e[0];
  for (int c = 1; c < V; ++c) top = e[c] > top ? e[c] : top;
  top = max_across(top);
  Vec sum = {};
  for (int c = 0; c < V; ++c) {
    const Vec x = e[c] - top;
    e[c] = x > floor ? exp_clamped(x > floor ? x : floor) : Vec{};
    sum += e[c];
  }
  const Vec inv = 1.0f / sum_across(sum);
  for (int c = 0; c < V; ++c) e[c] *= inv;
}

// In place: e <- softmax(e) over a row whose width is a multiple of 8 (the mean field pads labels). Labels more
// than 87 below the maximum (padding lanes, hopeless labels) get exactly 0, not e^-87 ~ 1.6e-38: scaled by the
// splat's weights that would be a denormal, and arithmetic on denormals is ~100x slower on x86 (the lattice's
// padding lanes would fill with them).
template <int S>
inline void softmax(float* e, int64_t stride) {
  const int64_t nv = (S > 0 ? S : stride) / kLanes;
  Vec top = load(e);
  for (int64_t c = 1; c < nv; ++c) {
    const Vec v = load(e + c * kLanes);
    top = v > top ? v : top;
  }
  top = max_across(top);
  const Vec floor = broadcast(-87.0f);
  Vec sum = {};
  for (int64_t c = 0; c < nv; ++c) {
    const Vec x = load(e + c * kLanes) - top;
    const Vec y = x > floor ? exp_clamped(x > floor ? x : floor) : Vec{};
    store(e + c * kLanes, y);
    sum += y;
  }
  const Vec inv = 1.0f / sum_across(sum);
  for (int64_t c = 0; c < nv; ++c) store(e + c * kLanes, load(e + c * kLanes) * inv);
}

}  // namespace atrous::crf::rows
