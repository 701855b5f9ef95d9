// Channel concatenation (forward layout, f64 gradients for three inputs of different widths, skipped gradients)
// and channel argmax (ties, NaN, ranks, not differentiable), with argument errors for both.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/ops/argmax.h"
#include "core/ops/concat.h"
#include "core/ops/elementwise.h"
#include "support/gradcheck.h"

using namespace atrous;
using atrous::testing::random_input;

namespace {

template <typename Call>
void expect_error_naming(const char* op, Call&& call, const char* what) {
  try {
    call();
    ADD_FAILURE() << "expected an error: " << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(op), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Concat, PlacesEachInputAtItsChannelOffset) {
  Tensor a = random_input({2, 3, 4, 1}, 1, false), b = random_input({2, 3, 4, 5}, 2, false);
  Tensor c = random_input({2, 3, 4, 2}, 3, false);
  Tensor y = concat_channels({a, b, c});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4, 8}));
  const std::vector<double> out = y.to_double_vector(), va = a.to_double_vector(), vb = b.to_double_vector(),
                            vc = c.to_double_vector();
  for (int64_t p = 0; p < 24; ++p) {
    EXPECT_EQ(out[p * 8], va[p]);
    for (int k = 0; k < 5; ++k) EXPECT_EQ(out[p * 8 + 1 + k], vb[p * 5 + k]);
    for (int k = 0; k < 2; ++k) EXPECT_EQ(out[p * 8 + 6 + k], vc[p * 2 + k]);
  }
}

TEST(Concat, StridedInputsAndOtherRanks) {
  Tensor base = random_input({4, 6}, 4, false);
  Tensor view = base.permute({1, 0});  // [6, 4], not contiguous
  Tensor y = concat_channels({view, Tensor::ones({6, 1}, DType::f64)});
  ASSERT_EQ(y.shape(), (Shape{6, 5}));
  const std::vector<double> out = y.to_double_vector(), v = view.to_double_vector();
  for (int r = 0; r < 6; ++r) {
    for (int k = 0; k < 4; ++k) EXPECT_EQ(out[r * 5 + k], v[r * 4 + k]);
    EXPECT_EQ(out[r * 5 + 4], 1.0);
  }
  Tensor labels = concat_channels({Tensor::zeros({3}, DType::i32), Tensor::ones({2}, DType::i32)});
  EXPECT_EQ(labels.to_double_vector(), (std::vector<double>{0, 0, 0, 1, 1}));
}

TEST(ConcatChecks, BadArgumentsThrowNamingTheOp) {
  const char* op = "concat_channels";
  Tensor a = Tensor::ones({2, 3, 4, 5});
  expect_error_naming(op, [] { concat_channels({}); }, "no inputs");
  expect_error_naming(op, [&] { concat_channels({a, Tensor()}); }, "undefined input");
  expect_error_naming(op, [&] { concat_channels({a, Tensor::ones({2, 3, 5, 5})}); }, "different width");
  expect_error_naming(op, [&] { concat_channels({a, Tensor::ones({2, 3, 4})}); }, "different rank");
  expect_error_naming(op, [&] { concat_channels({a, Tensor::ones({2, 3, 4, 5}, DType::f64)}); }, "dtypes");
  expect_error_naming(op, [&] { concat_channels({Tensor::scalar(1.0)}); }, "scalar");
}

TEST(Argmax, PicksLargestAndLowestIndexOnTies) {
  Tensor x = Tensor::from_vector<float>({0, 3, 1, 3,  //
                                         5, 5, 5, 5,  //
                                         -1, -2, -3, -0.5f},
                                        {1, 3, 1, 4});
  Tensor y = argmax_channels(x);
  EXPECT_EQ(y.dtype(), DType::i32);
  EXPECT_EQ(y.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(y.to_double_vector(), (std::vector<double>{1, 0, 3}));
}

TEST(Argmax, NaNCountsAsLargest) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_vector<float>({1, nan, 9, nan, 0, 2}, {2, 3});
  EXPECT_EQ(argmax_channels(x).to_double_vector(), (std::vector<double>{1, 0}));
}

TEST(Argmax, MatchesNaiveLoopAndIsNotDifferentiable) {
  Tensor x = random_input({2, 17, 19, 21}, 9);
  Tensor y = argmax_channels(x);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
  const std::vector<double> v = x.to_double_vector(), labels = y.to_double_vector();
  for (size_t p = 0; p < labels.size(); ++p) {
    size_t best = 0;
    for (size_t k = 1; k < 21; ++k)
      if (v[p * 21 + k] > v[p * 21 + best]) best = k;
    ASSERT_EQ(labels[p], static_cast<double>(best)) << "pixel " << p;
  }
  EXPECT_EQ(argmax_channels(Tensor::from_vector<double>({1, 4, 2}, {3})).item<int32_t>(), 1);  // rank 1 -> scalar
}

TEST(ArgmaxChecks, BadArgumentsThrowNamingTheOp) {
  const char* op = "argmax_channels";
  expect_error_naming(op, [] { argmax_channels(Tensor::ones({2, 3}, DType::i32)); }, "integer input");
  expect_error_naming(op, [] { argmax_channels(Tensor()); }, "undefined input");
  expect_error_naming(op, [] { argmax_channels(Tensor::scalar(1.0)); }, "scalar");
  expect_error_naming(op, [] { argmax_channels(Tensor::ones({2, 0})); }, "no channels");
}
