// float GEMM through our packed kernels (kernels/cpu/sgemm_packed.h) or Eigen, double through Eigen, on mapped
// row-major arrays. The library builds with EIGEN_DONT_PARALLELIZE: we partition around these calls ourselves (see
// gemm_parallel).
#include "kernels/gemm.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "core/error.h"
#include "kernels/cpu/sgemm_packed.h"

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

constexpr GemmBackend kBackends[] = {GemmBackend::eigen, GemmBackend::avx2, GemmBackend::avx512};

GemmBackend default_backend() {
  if (const char* chosen = std::getenv("ATROUS_GEMM"); chosen && *chosen) {
    for (const GemmBackend b : kBackends) {
      if (std::strcmp(chosen, gemm_backend_name(b)) != 0) continue;
      ATROUS_CHECK(gemm_backend_supported(b), "ATROUS_GEMM=", chosen, ": this CPU cannot run it");
      return b;
    }
    ATROUS_FAIL("ATROUS_GEMM=", chosen, ": unknown GEMM backend (eigen, avx2, avx512)");
  }
  if (gemm_backend_supported(GemmBackend::avx512)) return GemmBackend::avx512;
  return gemm_backend_supported(GemmBackend::avx2) ? GemmBackend::avx2 : GemmBackend::eigen;
}

std::atomic<GemmBackend>& current_backend() {
  static std::atomic<GemmBackend> backend{default_backend()};
  return backend;
}

}  // namespace

GemmBackend gemm_backend() { return current_backend().load(std::memory_order_relaxed); }

void set_gemm_backend(GemmBackend backend) {
  ATROUS_CHECK(gemm_backend_supported(backend), "set_gemm_backend: this CPU cannot run the ",
               gemm_backend_name(backend), " kernels");
  current_backend().store(backend, std::memory_order_relaxed);
}

bool gemm_backend_supported(GemmBackend backend) { return sgemm::cpu_supports(backend); }

const char* gemm_backend_name(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::eigen: return "eigen";
    case GemmBackend::avx2: return "avx2";
    case GemmBackend::avx512: return "avx512";
  }
  return "?";
}

template <typename T>
void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (const GemmBackend backend = gemm_backend(); backend != GemmBackend::eigen) {
      sgemm::multiply(backend, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  }
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

int64_t PackedRhs::storage_floats(int64_t k, int64_t n) {
  const GemmBackend backend = gemm_backend();
  return backend == GemmBackend::eigen ? 0 : sgemm::packed_rhs_floats(backend, k, n);
}

PackedRhs::PackedRhs(Transpose trans_b, int64_t k, int64_t n, const float* b, int64_t ldb, float* storage,
                     int64_t storage_size)
    : backend_(gemm_backend()), trans_b_(trans_b), k_(k), n_(n), b_(b), ldb_(ldb), packed_(nullptr) {
  if (backend_ != GemmBackend::eigen && storage && k > 0 && n > 0 &&
      storage_size >= sgemm::packed_rhs_floats(backend_, k, n))
    packed_ = sgemm::packed_rhs_start(storage);
}

int64_t PackedRhs::slices() const { return packed_ ? sgemm::packed_rhs_slices(k_) : 0; }

void PackedRhs::pack_slice(int64_t slice) const {
  sgemm::pack_rhs_slice(backend_, trans_b_, b_, ldb_, k_, n_, slice, packed_);
}

void gemm_packed_rhs(Transpose trans_a, int64_t m, int64_t k0, int64_t k1, float alpha, const float* a, int64_t lda,
                     const PackedRhs& b, float beta, float* c, int64_t ldc) {
  ATROUS_CHECK(0 <= k0 && k0 <= k1 && k1 <= b.k_, "gemm_packed_rhs: depth range [", k0, ", ", k1,
               ") outside the operand's ", b.k_);
  if (!b.packed_) {  // not packed: the same product straight from b's rows k0..k1
    const float* rows = b.trans_b_ == Transpose::yes ? b.b_ + k0 : b.b_ + k0 * b.ldb_;
    gemm<float>(trans_a, b.trans_b_, m, b.n_, k1 - k0, alpha, a, lda, rows, b.ldb_, beta, c, ldc);
    return;
  }
  sgemm::multiply_packed_rhs(b.backend_, trans_a, m, b.n_, b.k_, k0, k1, alpha, a, lda, b.packed_, beta, c, ldc);
}

#define ATROUS_INSTANTIATE(T)                                                                                      \
  template void gemm<T>(Transpose, Transpose, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, \
                        T, T*, int64_t);                                                                           \
  template void gemm_parallel<T>(Transpose, Transpose, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,  \
                                 int64_t, T, T*, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
