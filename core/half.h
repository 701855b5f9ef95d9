// IEEE binary16 (f16) and bfloat16 (bf16) conversions from/to float and double, correctly rounded (round to
// nearest, ties to even; overflow to infinity; NaN stays NaN), without depending on the FPU rounding mode.
#pragma once
#include <cstdint>
#include <cstring>

namespace atrous {

namespace detail {

// Rounds a double to a small binary format with `kExpBits` exponent bits and `kManBits` stored mantissa bits.
// Every float and double is handled exactly (float -> double is exact), so one routine serves both sources.
template <int kExpBits, int kManBits>
inline uint16_t encode_small_float(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 63) << (kExpBits + kManBits));
  const int exp = static_cast<int>((bits >> 52) & 0x7FF);
  const uint64_t frac = bits & ((uint64_t(1) << 52) - 1);
  constexpr uint16_t kExpMask = static_cast<uint16_t>(((1u << kExpBits) - 1) << kManBits);
  constexpr int kBias = (1 << (kExpBits - 1)) - 1;

  if (exp == 0x7FF) {
    if (frac == 0) return sign | kExpMask;  // infinity
    // NaN: keep the top payload bits and force the quiet bit so that the result cannot become an infinity.
    const uint16_t payload = static_cast<uint16_t>(frac >> (52 - kManBits));
    return sign | kExpMask | payload | static_cast<uint16_t>(1u << (kManBits - 1));
  }
  // Zero and double subnormals (< 2^-1022) are far below the smallest subnormal of either target.
  if (exp == 0) return sign;

  const int target_exp = exp - 1023 + kBias;  // biased exponent in the target format
  if (target_exp >= (1 << kExpBits) - 1) return sign | kExpMask;
  const uint64_t significand = (uint64_t(1) << 52) | frac;  // 53 bits, the leading one explicit
  // Bits to drop: the extra mantissa bits, plus the denormalisation shift below the smallest normal exponent.
  const int shift = 52 - kManBits + (target_exp >= 1 ? 0 : 1 - target_exp);
  if (shift > 53) return sign;  // below half of the smallest subnormal: rounds to zero
  uint64_t kept = significand >> shift;
  const uint64_t rest = significand & ((uint64_t(1) << shift) - 1);
  const uint64_t half = uint64_t(1) << (shift - 1);
  if (rest > half || (rest == half && (kept & 1))) ++kept;
  // A carry out of the mantissa lands in the exponent field, which is exactly the next binade (or infinity).
  const uint64_t magnitude =
      target_exp >= 1 ? (static_cast<uint64_t>(target_exp) << kManBits) + kept - (uint64_t(1) << kManBits) : kept;
  if (magnitude >= kExpMask) return sign | kExpMask;
  return sign | static_cast<uint16_t>(magnitude);
}

inline float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace detail

inline uint16_t f16_from_double(double v) { return detail::encode_small_float<5, 10>(v); }
inline uint16_t bf16_from_double(double v) { return detail::encode_small_float<8, 7>(v); }
inline uint16_t f16_from_float(float v) { return f16_from_double(static_cast<double>(v)); }
inline uint16_t bf16_from_float(float v) { return bf16_from_double(static_cast<double>(v)); }

// bf16 is the top half of a float: widening is exact.
inline float float_from_bf16(uint16_t h) { return detail::float_from_bits(static_cast<uint32_t>(h) << 16); }

// Every f16 value (subnormals included) is exactly representable as a float.
inline float float_from_f16(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  uint32_t man = h & 0x3FF;
  if (exp == 0x1F) return detail::float_from_bits(sign | 0x7F800000u | (man << 13));  // inf / NaN (payload kept)
  if (exp != 0) return detail::float_from_bits(sign | ((exp - 15 + 127) << 23) | (man << 13));
  if (man == 0) return detail::float_from_bits(sign);
  // Subnormal: normalise so that the float's implicit leading one is the highest set bit of the mantissa.
  int e = -14;
  while ((man & 0x400) == 0) {
    man <<= 1;
    --e;
  }
  return detail::float_from_bits(sign | static_cast<uint32_t>(e + 127) << 23 | ((man & 0x3FF) << 13));
}

}  // namespace atrous
