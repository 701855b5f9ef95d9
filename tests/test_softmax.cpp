// Softmax and log-softmax over the last axis: naive references, rows summing to 1, stability with huge logits,
// and argument errors. Finite differences and CUDA run from the op case table (tests/op_cases/softmax.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "core/ops/softmax.h"
#include "core/random.h"

using namespace atrous;

namespace {

// Softmax of each row of a [rows, cols] vector, in long double, without the max shift.
std::vector<double> naive_softmax(const std::vector<double>& x, int64_t cols, bool log) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / cols; ++r) {
    long double total = 0;
    for (int64_t k = 0; k < cols; ++k) total += std::exp(static_cast<long double>(x[r * cols + k]));
    for (int64_t k = 0; k < cols; ++k) {
      const long double p = std::exp(static_cast<long double>(x[r * cols + k])) / total;
      out[r * cols + k] = static_cast<double>(log ? std::log(p) : p);
    }
  }
  return out;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "element " << i;
}

}  // namespace

TEST(Softmax, MatchesNaiveReference) {
  // Short rows go through transposed 16-row tiles (24 rows: one full tile and one partial), long ones row by row.
  for (const Shape& shape : {Shape{7}, Shape{3, 5}, Shape{2, 3, 4, 21}, Shape{3, 100}, Shape{17, 64}}) {
    SCOPED_TRACE(shape_str(shape));
    Generator gen(3);
    Tensor x = Tensor::uniform(shape, -5, 5, gen, DType::f64);
    const std::vector<double> xs = x.to_double_vector();
    expect_near_all(softmax(x).to_double_vector(), naive_softmax(xs, shape.back(), false), 1e-14);
    expect_near_all(log_softmax(x).to_double_vector(), naive_softmax(xs, shape.back(), true), 1e-13);
    expect_near_all(softmax(x.to(DType::f32)).to_double_vector(), naive_softmax(xs, shape.back(), false), 1e-6);
    expect_near_all(log_softmax(x.to(DType::f32)).to_double_vector(), naive_softmax(xs, shape.back(), true), 1e-5);
  }
}

TEST(Softmax, RowsSumToOne) {
  Generator gen(5);
  Tensor x = Tensor::uniform({4, 33, 17, 21}, -30, 30, gen, DType::f32);
  const std::vector<double> p = softmax(x).to_double_vector();
  for (size_t r = 0; r < p.size() / 21; ++r) {
    double total = 0;
    for (int k = 0; k < 21; ++k) {
      ASSERT_GE(p[r * 21 + k], 0.0);
      total += p[r * 21 + k];
    }
    ASSERT_NEAR(total, 1.0, 1e-5) << "row " << r;
  }
}

TEST(Softmax, HugeLogitsStayFinite) {
  Tensor x = Tensor::from_vector<float>({1000, 1000, -1000, 0, 3000, 3000}, {3, 2});
  expect_near_all(softmax(x).to_double_vector(), {0.5, 0.5, 0, 1, 0.5, 0.5}, 1e-7);
  const std::vector<double> lp = log_softmax(x).to_double_vector();
  EXPECT_NEAR(lp[0], -std::log(2.0), 1e-6);
  EXPECT_NEAR(lp[2], -1000.0, 1e-3);
  EXPECT_NEAR(lp[3], 0.0, 1e-6);
  for (double v : lp) EXPECT_TRUE(std::isfinite(v));
}

TEST(SoftmaxChecks, BadArgumentsThrowNamingTheOp) {
  auto expect_error = [](auto&& call, const char* op) {
    try {
      call();
      ADD_FAILURE() << "expected an error from " << op;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(op), std::string::npos) << e.what();
    }
  };
  expect_error([] { softmax(Tensor::ones({2, 3}, DType::i32)); }, "softmax");
  expect_error([] { log_softmax(Tensor::ones({2, 3}, DType::u8)); }, "log_softmax");
  expect_error([] { softmax(Tensor::scalar(1.0)); }, "softmax");
  expect_error([] { log_softmax(Tensor::scalar(1.0)); }, "log_softmax");
  expect_error([] { softmax(Tensor()); }, "softmax");
}
