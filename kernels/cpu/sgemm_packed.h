// Our own single-precision GEMM: operands packed into panels and multiplied by register-blocked micro-kernels for
// AVX-512 (12 x 32) and AVX2 + FMA (6 x 16), picked at run time from what the CPU supports, so a binary built on one
// x86 CPU runs on another. kernels/cpu/gemm.cpp routes float products here (kernels::GemmBackend) and keeps Eigen
// for double and as the reference the tests compare with.
#pragma once
#include <cstdint>

#include "kernels/gemm.h"

namespace atrous::kernels::sgemm {

// Whether this CPU runs the kernels of `backend` (avx2: AVX2 and FMA; avx512: AVX-512F; eigen: always).
bool cpu_supports(GemmBackend backend);

// C = alpha * op(A) * op(B) + beta * C with gemm()'s conventions (row-major, strides of the arrays as stored; beta
// == 0 ignores C's contents). Single-threaded. backend is avx2 or avx512, and cpu_supports() it.
void multiply(GemmBackend backend, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// op(B) (k x n) packed once for many products over ranges of its depth (kernels::PackedRhs): the floats of storage
// it needs (with room to align), its slices (packed independently, e.g. by several threads), where the packed data
// starts in the storage, one slice's packing, and C = alpha * op(A) * op(B)[k0:k1, :] + beta * C with op(A)
// m x (k1 - k0).
int64_t packed_rhs_floats(GemmBackend backend, int64_t k, int64_t n);
int64_t packed_rhs_slices(int64_t k);
float* packed_rhs_start(float* storage);
void pack_rhs_slice(GemmBackend backend, Transpose trans_b, const float* b, int64_t ldb, int64_t k, int64_t n,
                    int64_t slice, float* packed);
void multiply_packed_rhs(GemmBackend backend, Transpose trans_a, int64_t m, int64_t n, int64_t k, int64_t k0,
                         int64_t k1, float alpha, const float* a, int64_t lda, const float* packed, float beta,
                         float* c, int64_t ldc);

}  // namespace atrous::kernels::sgemm
