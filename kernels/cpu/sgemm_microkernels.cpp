// Per depth step each kernel loads one row of the B panel (NR floats, whole vectors), broadcasts MR values of the A
// panel and issues MR x NR / lanes fused multiply-adds into accumulators that stay in registers for the whole depth:
// 24 of the 32 zmm registers (AVX-512) or 12 of the 16 ymm (AVX2), leaving room for B's vectors and the broadcast.
// The loops over rows have constant trip counts and unroll completely. (Broadcasting A with _mm256_broadcast_ss
// from a pointer made GCC 12 keep the AVX2 accumulators on the stack, at half the speed; _mm256_set1_ps does not.)
#include "kernels/cpu/sgemm_microkernels.h"

#include <immintrin.h>

namespace atrous::kernels::sgemm {
namespace {

constexpr int kAvx512Rows = 12, kAvx512Cols = 32;

__attribute__((target("avx512f"))) void kernel_avx512(int64_t kc, const float* a, const float* b, float* c,
                                                      int64_t ldc, float alpha, float beta) {
  __m512 lo[kAvx512Rows], hi[kAvx512Rows];
  for (int i = 0; i < kAvx512Rows; ++i) lo[i] = hi[i] = _mm512_setzero_ps();
  for (int i = 0; i < kAvx512Rows; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    for (int i = 0; i < kAvx512Rows; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      lo[i] = _mm512_fmadd_ps(ai, b0, lo[i]);
      hi[i] = _mm512_fmadd_ps(ai, b1, hi[i]);
    }
    a += kAvx512Rows;
    b += kAvx512Cols;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int i = 0; i < kAvx512Rows; ++i) {
      _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, lo[i]));
      _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, hi[i]));
    }
    return;
  }
  const __m512 vb = _mm512_set1_ps(beta);
  for (int i = 0; i < kAvx512Rows; ++i) {
    float* row = c + i * ldc;
    _mm512_storeu_ps(row, _mm512_fmadd_ps(va, lo[i], _mm512_mul_ps(vb, _mm512_loadu_ps(row))));
    _mm512_storeu_ps(row + 16, _mm512_fmadd_ps(va, hi[i], _mm512_mul_ps(vb, _mm512_loadu_ps(row + 16))));
  }
}

constexpr int kAvx2Rows = 6, kAvx2Cols = 16;

__attribute__((target("avx2,fma"))) void kernel_avx2(int64_t kc, const float* a, const float* b, float* c,
                                                     int64_t ldc, float alpha, float beta) {
  __m256 lo[kAvx2Rows], hi[kAvx2Rows];
  for (int i = 0; i < kAvx2Rows; ++i) lo[i] = hi[i] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    for (int i = 0; i < kAvx2Rows; ++i) {
      const __m256 ai = _mm256_set1_ps(a[i]);
      lo[i] = _mm256_fmadd_ps(ai, b0, lo[i]);
      hi[i] = _mm256_fmadd_ps(ai, b1, hi[i]);
    }
    a += kAvx2Rows;
    b += kAvx2Cols;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int i = 0; i < kAvx2Rows; ++i) {
      _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(va, lo[i]));
      _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(va, hi[i]));
    }
    return;
  }
  const __m256 vb = _mm256_set1_ps(beta);
  for (int i = 0; i < kAvx2Rows; ++i) {
    float* row = c + i * ldc;
    _mm256_storeu_ps(row, _mm256_fmadd_ps(va, lo[i], _mm256_mul_ps(vb, _mm256_loadu_ps(row))));
    _mm256_storeu_ps(row + 8, _mm256_fmadd_ps(va, hi[i], _mm256_mul_ps(vb, _mm256_loadu_ps(row + 8))));
  }
}

}  // namespace

KernelShape avx512_kernel() { return {kAvx512Rows, kAvx512Cols, kernel_avx512, interleave_rows_avx512}; }
KernelShape avx2_kernel() { return {kAvx2Rows, kAvx2Cols, kernel_avx2, interleave_rows_avx2}; }

}  // namespace atrous::kernels::sgemm
