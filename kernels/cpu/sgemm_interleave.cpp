// Rows side by side by in-register transposes: a group of up to 16 rows (AVX-512; 8 on AVX2) is loaded 16 (8) floats
// at a time, one vector per row with zeros for the rows past `valid` and past the group, transposed so that each
// vector holds one depth step of every row of the group, and stored into that step's row of the output. Compiled
// for each instruction set by a target attribute and only called on a CPU that has it (kernels/cpu/sgemm_packed.cpp).
#include "kernels/cpu/sgemm_interleave.h"

#include <immintrin.h>

#include <algorithm>

namespace atrous::kernels::sgemm {
namespace {

// The element by element fallback for the depth tail: out[p * count + i] for p in [p0, depth).
void interleave_tail(const float* src, int64_t ld, int64_t valid, int64_t count, int64_t p0, int64_t depth,
                     float* out) {
  for (int64_t p = p0; p < depth; ++p)
    for (int64_t i = 0; i < count; ++i) out[p * count + i] = i < valid ? src[i * ld + p] : 0.0f;
}

#define ATROUS_AVX512 __attribute__((target("avx512f")))
#define ATROUS_AVX2 __attribute__((target("avx2,fma")))

ATROUS_AVX512 inline __m512 unpack_lo_pairs(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
ATROUS_AVX512 inline __m512 unpack_hi_pairs(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

// r[i] lane j -> r[j] lane i. Within each 128-bit lane, interleaving floats then pairs of floats gives, for every
// group of four rows 4m..4m+3, b[4m + c] whose lane L is column 4L + c of those rows; two rounds of 128-bit lane
// shuffles then gather column 4L + c's four lanes from b[c], b[4 + c], b[8 + c], b[12 + c].
ATROUS_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 a[16], b[16];
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    a[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    a[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {
    b[4 * m] = unpack_lo_pairs(a[4 * m], a[4 * m + 2]);
    b[4 * m + 1] = unpack_hi_pairs(a[4 * m], a[4 * m + 2]);
    b[4 * m + 2] = unpack_lo_pairs(a[4 * m + 1], a[4 * m + 3]);
    b[4 * m + 3] = unpack_hi_pairs(a[4 * m + 1], a[4 * m + 3]);
  }
  constexpr int kEven = _MM_SHUFFLE(2, 0, 2, 0), kOdd = _MM_SHUFFLE(3, 1, 3, 1);
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512 e0 = _mm512_shuffle_f32x4(b[c], b[4 + c], kEven), e1 = _mm512_shuffle_f32x4(b[c], b[4 + c], kOdd);
    const __m512 f0 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], kEven);
    const __m512 f1 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], kOdd);
    r[c] = _mm512_shuffle_f32x4(e0, f0, kEven);
    r[8 + c] = _mm512_shuffle_f32x4(e0, f0, kOdd);
    r[4 + c] = _mm512_shuffle_f32x4(e1, f1, kEven);
    r[12 + c] = _mm512_shuffle_f32x4(e1, f1, kOdd);
  }
}

// The same for 8 x 8 floats: interleaving within 128-bit lanes as above, then the two lanes swapped across.
ATROUS_AVX2 inline void transpose8(__m256 r[8]) {
  __m256 a[8], b[8];
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    a[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    a[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
#pragma GCC unroll 2
  for (int m = 0; m < 2; ++m) {
    b[4 * m] = _mm256_shuffle_ps(a[4 * m], a[4 * m + 2], _MM_SHUFFLE(1, 0, 1, 0));
    b[4 * m + 1] = _mm256_shuffle_ps(a[4 * m], a[4 * m + 2], _MM_SHUFFLE(3, 2, 3, 2));
    b[4 * m + 2] = _mm256_shuffle_ps(a[4 * m + 1], a[4 * m + 3], _MM_SHUFFLE(1, 0, 1, 0));
    b[4 * m + 3] = _mm256_shuffle_ps(a[4 * m + 1], a[4 * m + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x31);
  }
}

// The first `lanes` floats of v at out (lanes <= 8): whole 128-, 64- and 32-bit pieces, no masked store (slow on
// some AVX2 CPUs).
ATROUS_AVX2 inline void store_lanes(float* out, __m256 v, int64_t lanes) {
  if (lanes == 8) {
    _mm256_storeu_ps(out, v);
    return;
  }
  __m128 part = _mm256_castps256_ps128(v);
  if (lanes >= 4) {
    _mm_storeu_ps(out, part);
    out += 4;
    lanes -= 4;
    part = _mm256_extractf128_ps(v, 1);
  }
  if (lanes >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(out), part);
    out += 2;
    lanes -= 2;
    part = _mm_movehl_ps(part, part);
  }
  if (lanes == 1) _mm_store_ss(out, part);
}

}  // namespace

ATROUS_AVX512 void interleave_rows_avx512(const float* src, int64_t ld, int64_t valid, int64_t count, int64_t depth,
                                          float* out) {
  constexpr int64_t kWidth = 16;
  const int64_t whole = depth / kWidth * kWidth;
  for (int64_t g = 0; g < count; g += kWidth) {  // groups of rows [g, g + rows)
    const int64_t rows = std::min(kWidth, count - g), loaded = std::clamp<int64_t>(valid - g, 0, rows);
    const __mmask16 mask = static_cast<__mmask16>((1u << rows) - 1);
    for (int64_t p = 0; p < whole; p += kWidth) {
      __m512 r[kWidth];
#pragma GCC unroll 16
      for (int64_t i = 0; i < kWidth; ++i)
        r[i] = i < loaded ? _mm512_loadu_ps(src + (g + i) * ld + p) : _mm512_setzero_ps();
      transpose16(r);
#pragma GCC unroll 16
      for (int64_t j = 0; j < kWidth; ++j) _mm512_mask_storeu_ps(out + (p + j) * count + g, mask, r[j]);
    }
  }
  interleave_tail(src, ld, valid, count, whole, depth, out);
}

ATROUS_AVX2 void interleave_rows_avx2(const float* src, int64_t ld, int64_t valid, int64_t count, int64_t depth,
                                      float* out) {
  constexpr int64_t kWidth = 8;
  const int64_t whole = depth / kWidth * kWidth;
  for (int64_t g = 0; g < count; g += kWidth) {
    const int64_t rows = std::min(kWidth, count - g), loaded = std::clamp<int64_t>(valid - g, 0, rows);
    for (int64_t p = 0; p < whole; p += kWidth) {
      __m256 r[kWidth];
#pragma GCC unroll 8
      for (int64_t i = 0; i < kWidth; ++i)
        r[i] = i < loaded ? _mm256_loadu_ps(src + (g + i) * ld + p) : _mm256_setzero_ps();
      transpose8(r);
#pragma GCC unroll 8
      for (int64_t j = 0; j < kWidth; ++j) store_lanes(out + (p + j) * count + g, r[j], rows);
    }
  }
  interleave_tail(src, ld, valid, count, whole, depth, out);
}

}  // namespace atrous::kernels::sgemm
