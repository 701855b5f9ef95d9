// kernels::gemm for float on every backend this CPU runs (our packed AVX-512 and AVX2 kernels, Eigen), against a
// plain triple loop in double: all four transposes, shapes that end inside a micro-kernel block, a depth slice, a
// row block and a column block, padded row strides, alpha and beta (beta == 0 must ignore C, NaN included), the
// two-thread split of gemm_parallel, and a right operand packed once (PackedRhs) used over ranges of its depth.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/sgemm_interleave.h"
#include "kernels/cpu/sgemm_packed.h"
#include "kernels/gemm.h"

namespace atrous::kernels {
namespace {

struct Shape {
  int64_t m, n, k;
};

// Blocks of the packed kernels are 12 x 32 (AVX-512) and 6 x 16 (AVX2), depth slices 256, A blocks 144 rows, B
// blocks 1024 columns: these shapes end inside and exactly at each of them.
const Shape kShapes[] = {{1, 1, 1},    {12, 32, 256}, {6, 16, 8},     {13, 33, 257},  {5, 7, 3},
                         {145, 40, 9}, {30, 1025, 5}, {144, 64, 600}, {37, 100, 513}, {2, 300, 1}};

class GemmBackends : public ::testing::TestWithParam<GemmBackend> {
 protected:
  void SetUp() override {
    if (!gemm_backend_supported(GetParam())) GTEST_SKIP() << gemm_backend_name(GetParam()) << " not on this CPU";
    saved_ = gemm_backend();
    set_gemm_backend(GetParam());
  }
  void TearDown() override {
    if (gemm_backend_supported(GetParam())) set_gemm_backend(saved_);
  }

 private:
  GemmBackend saved_ = GemmBackend::eigen;
};

std::vector<float> random_matrix(int64_t rows, int64_t stride, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(rows * stride));
  for (float& x : v) x = u(rng);
  return v;
}

struct Product {
  Transpose ta, tb;
  Shape s;
  float alpha, beta;
  int64_t pad;  // extra row stride of every operand
  bool parallel;
};

// Runs one product and compares C with the double-precision loop, to a tolerance scaled by sum_p |a||b|.
void check(const Product& p, const std::string& what) {
  const auto [m, n, k] = p.s;
  std::mt19937 rng(static_cast<uint32_t>(m * 7919 + n * 131 + k));
  const bool ta = p.ta == Transpose::yes, tb = p.tb == Transpose::yes;
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int64_t lda = a_cols + p.pad, ldb = b_cols + p.pad, ldc = n + p.pad;
  const std::vector<float> a = random_matrix(a_rows, lda, rng), b = random_matrix(b_rows, ldb, rng);
  std::vector<float> c = random_matrix(m, ldc, rng);
  if (p.beta == 0.0f) std::fill(c.begin(), c.end(), std::numeric_limits<float>::quiet_NaN());
  const std::vector<float> c0 = c;
  auto fn = p.parallel ? gemm_parallel<float> : gemm<float>;
  fn(p.ta, p.tb, m, n, k, p.alpha, a.data(), lda, b.data(), ldb, p.beta, c.data(), ldc);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t q = 0; q < k; ++q) {
        const double x = ta ? a[q * lda + i] : a[i * lda + q], y = tb ? b[j * ldb + q] : b[q * ldb + j];
        sum += x * y;
        magnitude += std::abs(x * y);
      }
      const double before = p.beta == 0.0f ? 0.0 : c0[i * ldc + j];
      const double expected = p.alpha * sum + p.beta * before;
      const double tolerance = 1e-5 * (std::abs(p.alpha) * magnitude + std::abs(p.beta * before)) + 1e-6;
      ASSERT_NEAR(c[i * ldc + j], expected, tolerance) << what << " at (" << i << ", " << j << ")";
    }
    for (int64_t j = n; j < ldc; ++j)  // the padding is never written (NaN before a beta == 0 product)
      ASSERT_TRUE(std::isnan(c[i * ldc + j]) || c[i * ldc + j] == c0[i * ldc + j]) << what << ": wrote past " << n;
  }
}

TEST_P(GemmBackends, MatchesLoopsForEveryTransposeAndShape) {
  for (const Shape& s : kShapes) {
    for (const Transpose ta : {Transpose::no, Transpose::yes}) {
      for (const Transpose tb : {Transpose::no, Transpose::yes}) {
        const std::string what = std::string(gemm_backend_name(GetParam())) + " " + std::to_string(s.m) + "x" +
                                 std::to_string(s.n) + "x" + std::to_string(s.k) +
                                 (ta == Transpose::yes ? " A^T" : "") + (tb == Transpose::yes ? " B^T" : "");
        check({ta, tb, s, 1.0f, 0.0f, 0, false}, what);
        check({ta, tb, s, 1.0f, 1.0f, 3, false}, what + " beta 1, padded");
      }
    }
  }
}

TEST_P(GemmBackends, ScalesByAlphaAndBeta) {
  for (const Shape& s : {Shape{13, 33, 257}, Shape{24, 64, 40}}) {
    check({Transpose::no, Transpose::yes, s, 0.5f, -2.0f, 1, false}, "alpha 0.5, beta -2");
    check({Transpose::yes, Transpose::no, s, -1.5f, 0.0f, 0, false}, "alpha -1.5, beta 0");
  }
}

TEST_P(GemmBackends, EmptyDepthScalesC) {
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  gemm<float>(Transpose::no, Transpose::no, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 2.0f, c.data(), 3);
  EXPECT_EQ(c, (std::vector<float>{2, 4, 6, 8, 10, 12}));
  std::fill(c.begin(), c.end(), std::numeric_limits<float>::quiet_NaN());
  gemm<float>(Transpose::no, Transpose::no, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, c.data(), 3);
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
}

TEST_P(GemmBackends, ParallelSplitMatches) {
  check({Transpose::no, Transpose::yes, {300, 70, 300}, 1.0f, 0.0f, 2, true}, "parallel, rows split");
  check({Transpose::no, Transpose::no, {40, 500, 300}, 1.0f, 1.0f, 0, true}, "parallel, columns split");
}

// A right operand packed once, products over depth ranges inside one slice, across slice boundaries (256 deep) and
// the whole depth, as a convolution's tiles use it: must equal gemm on the same rows of op(B).
TEST_P(GemmBackends, PackedRightOperandMatchesGemmOnItsDepthRange) {
  const int64_t m = 29, n = 70, k = 600;
  std::mt19937 rng(11);
  for (const Transpose tb : {Transpose::yes, Transpose::no}) {
    const int64_t ldb = (tb == Transpose::yes ? k : n) + 1;
    const std::vector<float> b = random_matrix(tb == Transpose::yes ? n : k, ldb, rng);
    std::vector<float> storage(static_cast<size_t>(PackedRhs::storage_floats(k, n)));
    const PackedRhs packed(tb, k, n, b.data(), ldb, storage.data(), static_cast<int64_t>(storage.size()));
    EXPECT_EQ(packed.slices(), GetParam() == GemmBackend::eigen ? 0 : 3);
    for (int64_t s = packed.slices() - 1; s >= 0; --s) packed.pack_slice(s);  // in any order
    for (const auto& [k0, k1] : {std::pair<int64_t, int64_t>{0, 600}, {10, 200}, {250, 530}, {599, 600}, {7, 7}}) {
      const int64_t depth = k1 - k0, lda = depth + 2;
      const std::vector<float> a = random_matrix(m, lda, rng);
      std::vector<float> expected = random_matrix(m, n, rng), got = expected;
      const float* rows = tb == Transpose::yes ? b.data() + k0 : b.data() + k0 * ldb;
      gemm<float>(Transpose::no, tb, m, n, depth, 0.75f, a.data(), lda, rows, ldb, 0.5f, expected.data(), n);
      gemm_packed_rhs(Transpose::no, m, k0, k1, 0.75f, a.data(), lda, packed, 0.5f, got.data(), n);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], expected[i], 1e-4f) << "depth [" << k0 << ", " << k1 << ") element " << i;
    }
  }
  const PackedRhs unpacked(Transpose::no, k, n, nullptr, n, nullptr, 0);
  EXPECT_THROW(gemm_packed_rhs(Transpose::no, 1, 0, k + 1, 1.0f, nullptr, 1, unpacked, 0.0f, nullptr, n), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, GemmBackends,
                         ::testing::Values(GemmBackend::eigen, GemmBackend::avx2, GemmBackend::avx512),
                         [](const auto& info) { return std::string(gemm_backend_name(info.param)); });

// The packing of row panels (in-register transposes of 16 or 8 rows): every row count up to two groups and a part,
// rows past `valid` zero, depths with and without a tail, and nothing written past count * depth floats.
TEST(SgemmInterleave, RowsSideBySideForEveryCountAndDepth) {
  const std::pair<GemmBackend, sgemm::InterleaveRows> backends[] = {
      {GemmBackend::avx512, sgemm::interleave_rows_avx512}, {GemmBackend::avx2, sgemm::interleave_rows_avx2}};
  std::mt19937 rng(5);
  for (const auto& [backend, interleave] : backends) {
    if (!sgemm::cpu_supports(backend)) continue;
    for (int64_t count = 1; count <= 40; ++count) {
      for (const int64_t depth : {0, 1, 7, 8, 15, 16, 17, 40}) {
        for (const int64_t valid : {int64_t{0}, count / 2, count - 1, count}) {
          const int64_t ld = depth + 3;
          const std::vector<float> src = random_matrix(std::max<int64_t>(valid, 1), ld, rng);
          std::vector<float> out(static_cast<size_t>(count * depth + 20), -7.0f);
          interleave(src.data(), ld, valid, count, depth, out.data());
          for (int64_t p = 0; p < depth; ++p)
            for (int64_t i = 0; i < count; ++i)
              ASSERT_EQ(out[p * count + i], i < valid ? src[i * ld + p] : 0.0f)
                  << gemm_backend_name(backend) << " count " << count << " valid " << valid << " depth " << depth
                  << " at (" << p << ", " << i << ")";
          for (size_t j = static_cast<size_t>(count * depth); j < out.size(); ++j)
            ASSERT_EQ(out[j], -7.0f) << gemm_backend_name(backend) << " count " << count << ": wrote past the end";
        }
      }
    }
  }
}

TEST(GemmBackend, DefaultIsTheWidestThisCpuRuns) {
  const char* forced = std::getenv("ATROUS_GEMM");
  if (forced && *forced) GTEST_SKIP() << "ATROUS_GEMM=" << forced << " chooses";
  const GemmBackend expected = gemm_backend_supported(GemmBackend::avx512) ? GemmBackend::avx512
                               : gemm_backend_supported(GemmBackend::avx2) ? GemmBackend::avx2
                                                                          : GemmBackend::eigen;
  EXPECT_EQ(gemm_backend(), expected);
  EXPECT_TRUE(gemm_backend_supported(GemmBackend::eigen));
}

}  // namespace
}  // namespace atrous::kernels
