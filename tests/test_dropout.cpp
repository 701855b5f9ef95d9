// dropout: identity outside training, the Philox mask contract (element i kept iff philox_uniform >= p), keep rate
// and scaling statistics, determinism per seed, backward reusing the mask, argument errors. Finite differences
// and CUDA run from the op case table (tests/op_cases/dropout.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/ops/dropout.h"
#include "core/ops/elementwise.h"
#include "core/random.h"
#include "support/gradcheck.h"

using namespace atrous;
using atrous::testing::random_input;

namespace {

Tensor make(const Shape& shape, uint64_t seed, DType dtype = DType::f32) {
  Generator gen(seed);
  return Tensor::uniform(shape, 0.5, 1.5, gen, dtype);  // never zero, so dropped elements are recognisable
}

}  // namespace

TEST(Dropout, IdentityWhenNotTrainingOrPZero) {
  Tensor x = random_input({2, 3, 4, 5}, 1);
  Generator gen(7);
  EXPECT_TRUE(dropout(x, 0.5, /*training=*/false, gen).same_as(x));
  EXPECT_TRUE(dropout(x, 0.0, /*training=*/true, gen).same_as(x));
  EXPECT_EQ(gen.offset(), 0u);  // nothing drawn
  sum(scale(dropout(x, 0.5, false, gen), 2.0)).backward();
  EXPECT_EQ(x.grad().to_double_vector(), std::vector<double>(x.numel(), 2.0));
}

TEST(Dropout, MaskFollowsThePhiloxContract) {
  // Element i survives iff philox_uniform(seed, offset, i) >= p, with offset = gen.reserve(numel): the CUDA kernel
  // relies on exactly this. Checked for an aligned offset and a misaligned one set by hand.
  // The large shape runs on every thread.
  for (uint64_t start : {uint64_t{0}, uint64_t{8}, uint64_t{3}}) {
    for (const Shape& shape : {Shape{3, 5, 7, 3}, Shape{1, 64, 64, 17}}) {
      Generator gen(42);
      gen.set_state(42, start);
      const double p = 0.3;
      Tensor x = make(shape, 2, DType::f64);
      Tensor y = dropout(x, p, true, gen);
      EXPECT_EQ(gen.offset(), start + (x.numel() + 3) / 4 * 4);
      const std::vector<double> xv = x.to_double_vector(), yv = y.to_double_vector();
      for (int64_t i = 0; i < x.numel(); ++i) {
        const bool keep = philox_uniform(42, start, i) >= static_cast<float>(p);
        EXPECT_EQ(yv[i], keep ? xv[i] * (1.0 / (1.0 - p)) : 0.0) << "element " << i << " offset " << start;
      }
    }
  }
}

TEST(Dropout, KeepRateAndScalingOnALargeTensor) {
  for (double p : {0.1, 0.5, 0.9}) {
    Generator gen(3);
    Tensor x = Tensor::ones({1 << 20});
    const std::vector<double> y = dropout(x, p, true, gen).to_double_vector();
    int64_t kept = 0;
    const float survivor = static_cast<float>(1.0 / (1.0 - p));
    for (double v : y) {
      if (v != 0.0) {
        ++kept;
        EXPECT_EQ(v, survivor);
      }
    }
    const double rate = static_cast<double>(kept) / y.size();
    // Binomial standard deviation is at most 0.0005 here; 0.003 is six of them.
    EXPECT_NEAR(rate, 1.0 - p, 0.003) << "p " << p;
  }
}

TEST(Dropout, DeterministicPerSeedAndFreshPerCall) {
  Tensor x = make({4, 9, 9, 8}, 4);
  Generator a(11), b(11), c(12);
  const std::vector<double> first = dropout(x, 0.5, true, a).to_double_vector();
  EXPECT_EQ(first, dropout(x, 0.5, true, b).to_double_vector());
  EXPECT_NE(first, dropout(x, 0.5, true, a).to_double_vector());  // the stream moved on
  EXPECT_NE(first, dropout(x, 0.5, true, c).to_double_vector());  // another seed
}

TEST(Dropout, BackwardReusesTheMask) {
  Tensor x = make({2, 17, 13, 7}, 5, DType::f64).set_requires_grad(true);
  Generator gen(6);
  Tensor y = dropout(x, 0.4, true, gen);
  Tensor dy = make(y.shape(), 7, DType::f64);
  y.backward(dy);
  const std::vector<double> xv = x.to_double_vector(), yv = y.to_double_vector(), g = dy.to_double_vector(),
                            dx = x.grad().to_double_vector();
  for (size_t i = 0; i < xv.size(); ++i) EXPECT_DOUBLE_EQ(dx[i], g[i] * yv[i] / xv[i]) << i;
}

TEST(Dropout, PEqualOneDropsEverything) {
  Tensor x = make({3, 4, 5, 2}, 8, DType::f64).set_requires_grad(true);
  Generator gen(9);
  Tensor y = dropout(x, 1.0, true, gen);
  EXPECT_EQ(y.to_double_vector(), std::vector<double>(x.numel(), 0.0));
  sum(y).backward();
  EXPECT_EQ(x.grad().to_double_vector(), std::vector<double>(x.numel(), 0.0));
}

TEST(DropoutChecks, BadArgumentsThrow) {
  Tensor x = Tensor::ones({2, 3});
  Generator gen(1);
  EXPECT_THROW(dropout(x, -0.1, true, gen), Error);
  EXPECT_THROW(dropout(x, 1.5, true, gen), Error);
  EXPECT_THROW(dropout(x, std::numeric_limits<double>::quiet_NaN(), true, gen), Error);
  EXPECT_THROW(dropout(x, 1.5, false, gen), Error);  // checked even when it would be the identity
  EXPECT_THROW(dropout(Tensor::ones({2, 3}, DType::i32), 0.5, true, gen), Error);
  EXPECT_THROW(dropout(Tensor(), 0.5, true, gen), Error);
  try {
    dropout(x, 2.0, true, gen);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dropout"), std::string::npos) << e.what();
  }
}
