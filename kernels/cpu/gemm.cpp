// GEMM through Eigen on mapped row-major arrays (Eigen's packed, cache-blocked AVX-512 kernels). The library builds
// with EIGEN_DONT_PARALLELIZE: we partition around these calls ourselves (see gemm_parallel).
#include "kernels/gemm.h"

#include <omp.h>

// GCC 12 flags Eigen's AVX-512 intrinsics wrappers with false -Wmaybe-uninitialized warnings.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#include <algorithm>

namespace atrous::kernels {
namespace {

template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstMap = Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename T>
using MutableMap = Eigen::Map<RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <typename T, typename A, typename B>
void multiply_into(MutableMap<T>& c, T alpha, const A& a, const B& b, T beta) {
  if (beta == T(0)) {
    c.noalias() = alpha * a * b;
    return;
  }
  if (beta != T(1)) c *= beta;
  c.noalias() += alpha * a * b;
}

// Below this many multiply-adds a second thread costs more than it saves.
constexpr double kParallelMinFlops = 4.0e6;

}  // namespace

template <typename T>
void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  MutableMap<T> cm(c, m, n, Eigen::OuterStride<>(ldc));
  if (k <= 0) {
    if (beta == T(0)) cm.setZero(); else cm *= beta;
    return;
  }
  const bool ta = trans_a == Transpose::yes, tb = trans_b == Transpose::yes;
  ConstMap<T> am(a, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
  ConstMap<T> bm(b, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
  if (!ta && !tb) multiply_into(cm, alpha, am, bm, beta);
  else if (!ta && tb) multiply_into(cm, alpha, am, bm.transpose(), beta);
  else if (ta && !tb) multiply_into(cm, alpha, am.transpose(), bm, beta);
  else multiply_into(cm, alpha, am.transpose(), bm.transpose(), beta);
}

template <typename T>
void gemm_parallel(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                   int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || double(m) * double(n) * double(k) < kParallelMinFlops) {
    gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const bool ta = trans_a == Transpose::yes, tb = trans_b == Transpose::yes;
  const bool split_rows = m >= n;  // each thread packs the whole of the other operand: split the longer side
#pragma omp parallel num_threads(threads)
  {
    const int64_t parts = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t extent = split_rows ? m : n;
    const int64_t lo = extent * id / parts, hi = extent * (id + 1) / parts;
    if (split_rows) {
      const T* a_part = ta ? a + lo : a + lo * lda;  // rows of op(A)
      gemm(trans_a, trans_b, hi - lo, n, k, alpha, a_part, lda, b, ldb, beta, c + lo * ldc, ldc);
    } else {
      const T* b_part = tb ? b + lo * ldb : b + lo;  // columns of op(B)
      gemm(trans_a, trans_b, m, hi - lo, k, alpha, a, lda, b_part, ldb, beta, c + lo, ldc);
    }
  }
}

#define ATROUS_INSTANTIATE(T)                                                                                      \
  template void gemm<T>(Transpose, Transpose, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, \
                        T, T*, int64_t);                                                                           \
  template void gemm_parallel<T>(Transpose, Transpose, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,  \
                                 int64_t, T, T*, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
