// Dense matrix product C = alpha * op(A) * op(B) + beta * C on row-major float/double arrays. The one wrapper every
// kernel calls for GEMM; only kernels/cpu/gemm.cpp includes Eigen, which keeps the library's compile time down.
#pragma once
#include <cstdint>

namespace atrous::kernels {

enum class Transpose : bool { no = false, yes = true };

// op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are the row strides (in elements) of the arrays as stored,
// i.e. of A itself, not of op(A). With beta == 0, C's prior contents are ignored (NaN-safe). Single-threaded:
// call it from inside an OpenMP partition, or use gemm_parallel.
template <typename T>
void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The same product with C split into one block per OpenMP thread (along its longer side), each computed by gemm.
// Measured faster on this machine than Eigen's own OpenMP GEMM (which the library compiles out). Falls back to one
// thread inside a parallel region or for small products.
template <typename T>
void gemm_parallel(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                   int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace atrous::kernels
