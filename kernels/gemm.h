// Dense matrix product C = alpha * op(A) * op(B) + beta * C on row-major float/double arrays. The one wrapper every
// kernel calls for GEMM; only kernels/cpu/gemm.cpp includes Eigen, which keeps the library's compile time down.
#pragma once
#include <cstdint>

namespace atrous::kernels {

enum class Transpose : bool { no = false, yes = true };

// What computes float products: our packed, register-blocked kernels for AVX-512 or AVX2 + FMA
// (kernels/cpu/sgemm_packed.h), or Eigen's GEMM, the reference the tests compare with and the fallback on CPUs with
// neither. The default is the widest this CPU runs; ATROUS_GEMM=eigen|avx2|avx512 in the environment overrides it
// at start-up (an unsupported one is an error). double products always run in Eigen.
enum class GemmBackend { eigen, avx2, avx512 };
GemmBackend gemm_backend();
// Throws if this CPU cannot run `backend`.
void set_gemm_backend(GemmBackend backend);
bool gemm_backend_supported(GemmBackend backend);
const char* gemm_backend_name(GemmBackend backend);

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

// The right operand op(B) (k x n, float) of many products, packed once: a convolution's weights, shared by all its
// tiles and threads, instead of packed again by every product. Products take a range [k0, k1) of its depth (the
// taps a tile uses). On the Eigen backend nothing is packed and products read b itself, as gemm would.
class PackedRhs {
 public:
  // Floats of storage a k x n operand needs on the current backend (0 on Eigen's).
  static int64_t storage_floats(int64_t k, int64_t n);
  // b and storage must outlive this; pack every slice before the first product. With less storage than
  // storage_floats(k, n) (e.g. the backend changed since it was sized) products read b unpacked.
  PackedRhs(Transpose trans_b, int64_t k, int64_t n, const float* b, int64_t ldb, float* storage,
            int64_t storage_size);
  // Slices pack independently: from several threads at once, each a different slice.
  int64_t slices() const;
  void pack_slice(int64_t slice) const;

 private:
  friend void gemm_packed_rhs(Transpose, int64_t, int64_t, int64_t, float, const float*, int64_t, const PackedRhs&,
                              float, float*, int64_t);
  GemmBackend backend_;
  Transpose trans_b_;
  int64_t k_, n_;
  const float* b_;
  int64_t ldb_;
  float* packed_;
};

// C = alpha * op(A) * op(B)[k0:k1, :] + beta * C, op(A) m x (k1 - k0) (lda as in gemm), C m x n of b. Single-threaded.
void gemm_packed_rhs(Transpose trans_a, int64_t m, int64_t k0, int64_t k1, float alpha, const float* a, int64_t lda,
                     const PackedRhs& b, float beta, float* c, int64_t ldc);

}  // namespace atrous::kernels
