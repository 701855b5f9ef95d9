// batch_norm: forward against a naive double reference in Train/Eval/Frozen modes, running-stat updates (unbiased
// variance), f32 accuracy on large means, what the backward keeps of x, and argument errors. Finite differences and CUDA run from the op case
// table (tests/op_cases/batch_norm.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/ops/batch_norm.h"
#include "core/ops/elementwise.h"
#include "core/random.h"
#include "support/gradcheck.h"

using namespace atrous;
using atrous::testing::random_input;

namespace {

struct Moments {
  std::vector<double> mean, var;  // biased variance
};

Moments naive_moments(const std::vector<double>& x, int64_t C) {
  const int64_t rows = static_cast<int64_t>(x.size()) / C;
  Moments m{std::vector<double>(C, 0.0), std::vector<double>(C, 0.0)};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) m.mean[c] += x[r * C + c] / rows;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) m.var[c] += (x[r * C + c] - m.mean[c]) * (x[r * C + c] - m.mean[c]) / rows;
  return m;
}

// y = (x - mean) / sqrt(var + eps) * w + b, on flat NHWC data; empty w/b mean no affine.
std::vector<double> naive_normalise(const std::vector<double>& x, int64_t C, const std::vector<double>& mean,
                                    const std::vector<double>& var, const std::vector<double>& w,
                                    const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const int64_t c = static_cast<int64_t>(i) % C;
    y[i] = (x[i] - mean[c]) / std::sqrt(var[c] + eps) * (w.empty() ? 1.0 : w[c]) + (b.empty() ? 0.0 : b[c]);
  }
  return y;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tol) && ++bad <= 5)
      ADD_FAILURE() << what << " element " << i << ": got " << got[i] << ", want " << want[i];
}

Tensor make(const Shape& shape, uint64_t seed, DType dtype = DType::f64, double low = -1.0, double high = 1.0) {
  Generator gen(seed);
  return Tensor::uniform(shape, low, high, gen, dtype);
}

BatchNormParams mode(BatchNormMode m) {
  BatchNormParams p;
  p.mode = m;
  return p;
}

}  // namespace

TEST(BatchNorm, HandComputedTrainStepAndRunningStats) {
  // One channel, values 1..4: mean 2.5, biased variance 1.25, unbiased 5/3.
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 2, 2, 1});
  Tensor rm = Tensor::from_vector<double>({0.5}, {1});
  Tensor rv = Tensor::from_vector<double>({2.0}, {1});
  BatchNormParams p;
  p.momentum = 0.1;
  p.eps = 1e-5;
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, p);
  const double s = std::sqrt(1.25 + 1e-5);
  expect_near_all(y.to_double_vector(), {-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s}, 1e-12, "y");
  EXPECT_NEAR(rm.item<double>(), 0.9 * 0.5 + 0.1 * 2.5, 1e-12);
  EXPECT_NEAR(rv.item<double>(), 0.9 * 2.0 + 0.1 * (5.0 / 3.0), 1e-12);
}

TEST(BatchNorm, TrainForwardMatchesReference) {
  for (DType dtype : {DType::f64, DType::f32}) {
    const int64_t C = 5;
    Tensor x = make({3, 7, 6, C}, 1, dtype, -2.0, 3.0);
    Tensor w = make({C}, 2, dtype), b = make({C}, 3, dtype);
    Tensor rm = make({C}, 4, dtype), rv = make({C}, 5, dtype, 0.5, 2.0);
    const std::vector<double> rm0 = rm.to_double_vector(), rv0 = rv.to_double_vector();
    BatchNormParams p;
    p.momentum = 0.3;
    p.eps = 1e-3;
    Tensor y = batch_norm(x, w, b, rm, rv, p);
    const std::vector<double> xv = x.to_double_vector();
    const Moments m = naive_moments(xv, C);
    const double tol = dtype == DType::f64 ? 1e-12 : 2e-5;
    expect_near_all(y.to_double_vector(),
                    naive_normalise(xv, C, m.mean, m.var, w.to_double_vector(), b.to_double_vector(), p.eps), tol, "y");
    const double rows = 3 * 7 * 6;
    std::vector<double> want_rm(C), want_rv(C);
    for (int64_t c = 0; c < C; ++c) {
      want_rm[c] = 0.7 * rm0[c] + 0.3 * m.mean[c];
      want_rv[c] = 0.7 * rv0[c] + 0.3 * m.var[c] * rows / (rows - 1);
    }
    expect_near_all(rm.to_double_vector(), want_rm, tol, "running_mean");
    expect_near_all(rv.to_double_vector(), want_rv, tol, "running_var");
  }
}

TEST(BatchNorm, TrainWithoutRunningStatsLeavesNothingToUpdate) {
  Tensor x = make({2, 3, 3, 4}, 6);
  Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor());
  const Moments m = naive_moments(x.to_double_vector(), 4);
  expect_near_all(y.to_double_vector(), naive_normalise(x.to_double_vector(), 4, m.mean, m.var, {}, {}, 1e-5), 1e-12,
                  "y");
}

TEST(BatchNorm, LargeImageF32StaysAccurate) {
  // A mean far from zero and a small spread: sum(x^2) - M*mean^2 in f32 would lose every digit.
  const int64_t C = 8;
  Tensor x = make({2, 97, 101, C}, 7, DType::f32, 999.0, 1001.0);
  Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor());
  const std::vector<double> xv = x.to_double_vector();
  const Moments m = naive_moments(xv, C);
  expect_near_all(y.to_double_vector(), naive_normalise(xv, C, m.mean, m.var, {}, {}, 1e-5), 2e-3, "y");
  const Moments out = naive_moments(y.to_double_vector(), C);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(out.mean[c], 0.0, 1e-4);
    EXPECT_NEAR(out.var[c], 1.0, 1e-3);
  }
}

TEST(BatchNorm, EvalUsesRunningStatsAndLeavesThemAlone) {
  const int64_t C = 6;
  Tensor x = make({2, 5, 3, C}, 8);
  Tensor w = make({C}, 9), b = make({C}, 10);
  Tensor rm = make({C}, 11), rv = make({C}, 12, DType::f64, 0.2, 3.0);
  const std::vector<double> rm0 = rm.to_double_vector(), rv0 = rv.to_double_vector();
  for (BatchNormMode m : {BatchNormMode::Eval, BatchNormMode::Frozen}) {
    Tensor y = batch_norm(x, w, b, rm, rv, mode(m));
    expect_near_all(
        y.to_double_vector(),
        naive_normalise(x.to_double_vector(), C, rm0, rv0, w.to_double_vector(), b.to_double_vector(), 1e-5), 1e-12,
        "y");
    EXPECT_EQ(rm.to_double_vector(), rm0);
    EXPECT_EQ(rv.to_double_vector(), rv0);
  }
  // No affine; a single pixel is fine outside Train mode.
  Tensor one = make({1, 1, 1, C}, 13);
  Tensor y = batch_norm(one, Tensor(), Tensor(), rm, rv, mode(BatchNormMode::Eval));
  expect_near_all(y.to_double_vector(), naive_normalise(one.to_double_vector(), C, rm0, rv0, {}, {}, 1e-5), 1e-12, "y");
}

TEST(BatchNorm, FrozenGivesNoGradientToWeightAndBias) {
  const int64_t C = 3;
  Tensor x = random_input({2, 2, 3, C}, 14);
  Tensor w = random_input({C}, 15), b = random_input({C}, 16);
  Tensor rm = make({C}, 17), rv = make({C}, 18, DType::f64, 0.5, 1.5);
  Tensor y = batch_norm(x, w, b, rm, rv, mode(BatchNormMode::Frozen));
  sum(y).backward();
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  ASSERT_TRUE(x.grad().defined());
  const std::vector<double> gx = x.grad().to_double_vector(), wv = w.to_double_vector(), rvv = rv.to_double_vector();
  for (size_t i = 0; i < gx.size(); ++i) EXPECT_NEAR(gx[i], wv[i % C] / std::sqrt(rvv[i % C] + 1e-5), 1e-12);

  // With only weight/bias requiring grad, Frozen records nothing.
  Tensor plain = make({2, 2, 3, C}, 19);
  EXPECT_FALSE(batch_norm(plain, w, b, rm, rv, mode(BatchNormMode::Frozen)).requires_grad());
  EXPECT_TRUE(batch_norm(plain, w, b, rm, rv, mode(BatchNormMode::Eval)).requires_grad());
}

// The backward reads x only for batch statistics or the affine's gradients, so a frozen BN keeps none of its input
// (a frozen-BN ResNet's training would otherwise hold one more activation per convolution), Train mode keeps it.
TEST(BatchNorm, FrozenKeepsNoInputForItsBackward) {
  const int64_t C = 16;
  Tensor a = random_input({4, 32, 32, C}, 20);
  Tensor w = random_input({C}, 21), b = random_input({C}, 22);
  Tensor rm = make({C}, 23), rv = make({C}, 24, DType::f64, 0.5, 1.5);
  const size_t activation = static_cast<size_t>(a.numel()) * sizeof(double);
  // Bytes still held once the input's own handle is gone: y, and the input if the backward keeps it.
  const auto held_after_forward = [&](BatchNormMode m) {
    const size_t base = host_allocator_stats().in_use_bytes;
    Tensor y;
    {
      const Tensor h = add(a, a);  // an activation nothing else keeps
      y = batch_norm(h, w, b, rm, rv, mode(m));
    }
    const size_t held = host_allocator_stats().in_use_bytes - base;
    sum(y).backward();
    return held;
  };
  EXPECT_LT(held_after_forward(BatchNormMode::Frozen), activation * 3 / 2);
  EXPECT_GE(held_after_forward(BatchNormMode::Train), activation * 2);
  EXPECT_GE(held_after_forward(BatchNormMode::Eval), activation * 2) << "the affine's gradient reads x";
  ASSERT_TRUE(a.grad().defined());
}

TEST(BatchNorm, ParallelSizesMatchReferenceForwardAndBackward) {
  // Above the kernels' parallel threshold, so the per-thread partial sums and their reduction are exercised.
  const int64_t C = 64;
  Tensor x = make({2, 17, 19, C}, 20, DType::f64, -1.0, 2.0);
  x.set_requires_grad(true);
  Tensor w = random_input({C}, 21), b = random_input({C}, 22);
  Tensor dy = make({2, 17, 19, C}, 23);
  Tensor y = batch_norm(x, w, b, Tensor(), Tensor());
  y.backward(dy);

  const std::vector<double> xv = x.to_double_vector(), wv = w.to_double_vector(), g = dy.to_double_vector();
  const Moments m = naive_moments(xv, C);
  expect_near_all(y.to_double_vector(), naive_normalise(xv, C, m.mean, m.var, wv, b.to_double_vector(), 1e-5), 1e-12,
                  "y");
  const int64_t rows = static_cast<int64_t>(xv.size()) / C;
  std::vector<double> sum_g(C, 0.0), sum_gx(C, 0.0), dx(xv.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (xv[r * C + c] - m.mean[c]) / std::sqrt(m.var[c] + 1e-5);
      sum_g[c] += g[r * C + c];
      sum_gx[c] += g[r * C + c] * xhat;
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double is = 1.0 / std::sqrt(m.var[c] + 1e-5);
      const double xhat = (xv[r * C + c] - m.mean[c]) * is;
      dx[r * C + c] = wv[c] * is * (g[r * C + c] - sum_g[c] / rows - xhat * sum_gx[c] / rows);
    }
  expect_near_all(x.grad().to_double_vector(), dx, 1e-10, "dx");
  expect_near_all(w.grad().to_double_vector(), sum_gx, 1e-9, "dweight");
  expect_near_all(b.grad().to_double_vector(), sum_g, 1e-9, "dbias");
}

TEST(BatchNormChecks, BadArgumentsThrow) {
  const int64_t C = 3;
  Tensor x = Tensor::ones({2, 2, 2, C});
  Tensor v = Tensor::ones({C}), rm = Tensor::zeros({C}), rv = Tensor::ones({C});
  EXPECT_THROW(batch_norm(Tensor::ones({2, 2, C}), v, v, rm, rv), Error);  // rank 3
  EXPECT_THROW(batch_norm(Tensor::ones({2, 2, 2, C}, DType::i32), v, v, rm, rv), Error);
  EXPECT_THROW(batch_norm(Tensor(), v, v, rm, rv), Error);
  EXPECT_THROW(batch_norm(x, Tensor::ones({C + 1}), v, rm, rv), Error);          // weight size
  EXPECT_THROW(batch_norm(x, v, Tensor::ones({1, C}), rm, rv), Error);           // bias rank
  EXPECT_THROW(batch_norm(x, Tensor::ones({C}, DType::f64), v, rm, rv), Error);  // weight dtype
  EXPECT_THROW(batch_norm(x, v, v, Tensor::zeros({C}, DType::f64), Tensor::ones({C}, DType::f64)), Error);
  EXPECT_THROW(batch_norm(x, v, v, rm, Tensor()), Error);  // only one running stat
  EXPECT_THROW(batch_norm(x, v, v, Tensor(), Tensor(), mode(BatchNormMode::Eval)), Error);
  EXPECT_THROW(batch_norm(x, v, v, Tensor(), Tensor(), mode(BatchNormMode::Frozen)), Error);
  // A [C] view with stride 2: running stats are written through a raw pointer, so they must be contiguous.
  auto impl = std::make_shared<TensorImpl>(*Tensor::zeros({2 * C}).impl());
  impl->shape = {C};
  impl->strides = {2};
  EXPECT_THROW(batch_norm(x, v, v, Tensor(impl), rv), Error);
  BatchNormParams bad_eps;
  bad_eps.eps = -1.0;
  EXPECT_THROW(batch_norm(x, v, v, rm, rv, bad_eps), Error);
  BatchNormParams bad_momentum;
  bad_momentum.momentum = 1.5;
  EXPECT_THROW(batch_norm(x, v, v, rm, rv, bad_momentum), Error);
  // Train mode needs more than one value per channel.
  EXPECT_THROW(batch_norm(Tensor::ones({1, 1, 1, C}), v, v, rm, rv), Error);
  try {
    batch_norm(x, Tensor::ones({5}), v, rm, rv);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("batch_norm"), std::string::npos) << what;
    EXPECT_NE(what.find("[2,2,2,3]"), std::string::npos) << what;
    EXPECT_NE(what.find("weight"), std::string::npos) << what;
  }
}
