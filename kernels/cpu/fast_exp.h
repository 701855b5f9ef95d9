// exp for float that GCC/Clang vectorise inside `#pragma omp simd` loops (libm's expf is a scalar call, and the
// softmax-family kernels spend most of their time in it). Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2,
// then a degree-6 Taylor polynomial for e^r (truncation error r^7/7! < 1.3e-7) and 2^n assembled in the exponent
// bits: within ~2 ulp of expf on [-87, 88]; 0 below, +inf above, NaN stays NaN. Double keeps std::exp (gradient
// checks run in f64).
#pragma once
#include <cmath>
#include <cstdint>

namespace atrous::kernels {

inline float fast_exp(float x) {
  constexpr float kLog2e = 1.44269504f;
  constexpr float kLn2Hi = 0.693145752f;   // ln 2 split so that n * kLn2Hi is exact for |n| < 2^9
  constexpr float kLn2Lo = 1.42860677e-6f;
  // Written so that NaN clamps to -87 (no undefined float-to-int conversion below) and is restored at the end.
  const float xc = x >= -87.0f ? (x <= 88.0f ? x : 88.0f) : -87.0f;
  // Round to nearest by adding and removing 1.5 * 2^23 (std::floor / nearbyint do not vectorise without
  // -ffast-math).
  constexpr float kRound = 12582912.0f;
  const float n = (xc * kLog2e + kRound) - kRound;
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float scale = __builtin_bit_cast(float, (static_cast<int32_t>(n) + 127) << 23);  // 2^n
  const float y = p * scale;
  return x != x ? x : (x < -87.0f ? 0.0f : (x > 88.0f ? INFINITY : y));
}

inline double fast_exp(double x) { return std::exp(x); }

}  // namespace atrous::kernels
