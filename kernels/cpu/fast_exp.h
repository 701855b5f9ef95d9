// exp for float that GCC/Clang vectorise inside `#pragma omp simd` loops (libm's expf is a scalar call, and the
// softmax-family kernels spend most of their time in it). Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2,
// then a degree-6 Taylor polynomial for e^r (truncation error r^7/7! < 1.3e-7) and 2^n assembled in the exponent
// bits: within ~2 ulp of expf on [-87, 88]; 0 below, +inf above, NaN stays NaN. Double keeps std::exp (gradient
// checks run in f64).
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace atrous::kernels {

// e^x for x already within [-87, 88]: x = n ln2 + r, e^r by the polynomial, 2^n in the exponent bits. F is float
// or a GCC vector of floats (the dense CRF's softmax, crf/lattice_rows.h), I the matching int32 type; the same
// operations in the same order either way.
template <typename F, typename I>
inline F exp_in_range(F x) {
  constexpr float kLog2e = 1.44269504f;
  constexpr float kLn2Hi = 0.693145752f;  // ln 2 split so that n * kLn2Hi is exact for |n| < 2^9
  constexpr float kLn2Lo = 1.42860677e-6f;
  // Round to nearest by adding and removing 1.5 * 2^23 (std::floor / nearbyint do not vectorise without
  // -ffast-math).
  constexpr float kRound = 12582912.0f;
  const F n = (x * kLog2e + kRound) - kRound;
  const F r = (x - n * kLn2Hi) - n * kLn2Lo;
  F p = F{} + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  I bits;
  if constexpr (std::is_same_v<F, float>) {
    bits = (static_cast<int32_t>(n) + 127) << 23;
  } else {
    bits = (__builtin_convertvector(n, I) + 127) << 23;
  }
  return p * __builtin_bit_cast(F, bits);  // times 2^n
}

inline float fast_exp(float x) {
  // Written so that NaN clamps to -87 (no undefined float-to-int conversion below) and is restored at the end.
  const float xc = x >= -87.0f ? (x <= 88.0f ? x : 88.0f) : -87.0f;
  const float y = exp_in_range<float, int32_t>(xc);
  return x != x ? x : (x < -87.0f ? 0.0f : (x > 88.0f ? INFINITY : y));
}

inline double fast_exp(double x) { return std::exp(x); }

}  // namespace atrous::kernels
