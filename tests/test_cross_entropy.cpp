// Softmax cross-entropy with ignore label and class weights: against an independent naive loss, against our own
// log_softmax, all-ignored batches, and label / argument errors. Finite differences and CUDA run from the op case
// table (tests/op_cases/cross_entropy.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "core/autograd.h"
#include "core/ops/cross_entropy.h"
#include "core/ops/softmax.h"
#include "core/random.h"
#include "support/gradcheck.h"

using namespace atrous;
using atrous::testing::random_input;

namespace {

// Labels in [0, classes) with about one pixel in four set to `ignore`.
template <typename L>
Tensor random_labels(const Shape& shape, int classes, int ignore, uint64_t seed) {
  Generator gen(seed);
  std::vector<L> values(shape_numel(shape));
  for (auto& v : values) {
    const double u = gen.next_uniform();
    v = static_cast<L>(u < 0.25 ? ignore : std::min(classes - 1, static_cast<int>((u - 0.25) / 0.75 * classes)));
  }
  return Tensor::from_vector<L>(values, shape);
}

// sum_i w[y_i] * -log softmax(x_i)[y_i] / sum_i w[y_i] over pixels whose label is not `ignore`, in long double.
double naive_loss(const Tensor& logits, const Tensor& labels, int ignore, const std::vector<double>& weights = {}) {
  const std::vector<double> x = logits.to_double_vector(), y = labels.to_double_vector();
  const int64_t C = logits.size(-1);
  long double loss = 0, denom = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (static_cast<int>(y[i]) == ignore) continue;
    long double total = 0;
    for (int64_t k = 0; k < C; ++k) total += std::exp(static_cast<long double>(x[i * C + k]));
    const int64_t label = static_cast<int64_t>(y[i]);
    const long double w = weights.empty() ? 1.0L : weights[label];
    loss += w * (std::log(total) - x[i * C + label]);
    denom += w;
  }
  return static_cast<double>(loss / denom);
}

}  // namespace

TEST(CrossEntropy, MatchesNaiveLossWithIgnoredPixels) {
  Generator gen(1);
  Tensor logits = Tensor::uniform({2, 5, 6, 7}, -4, 4, gen, DType::f64);
  Tensor labels_i32 = random_labels<int32_t>({2, 5, 6}, 7, 255, 2);
  Tensor labels_u8 = random_labels<uint8_t>({2, 5, 6}, 7, 255, 2);
  const double want = naive_loss(logits, labels_i32, 255);
  EXPECT_NEAR(softmax_cross_entropy(logits, labels_i32).item<double>(), want, 1e-12);
  EXPECT_NEAR(softmax_cross_entropy(logits, labels_u8).item<double>(), want, 1e-12);
  EXPECT_NEAR(softmax_cross_entropy(logits.to(DType::f32), labels_u8).item<float>(), want, 1e-5);
}

TEST(CrossEntropy, EqualsMinusMeanLogSoftmaxAtTheLabel) {
  Generator gen(4);
  Tensor logits = Tensor::uniform({3, 4, 5, 21}, -10, 10, gen, DType::f32);
  Tensor labels = random_labels<uint8_t>({3, 4, 5}, 21, 255, 5);
  const std::vector<double> lp = log_softmax(logits).to_double_vector(), y = labels.to_double_vector();
  double total = 0;
  int count = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] == 255) continue;
    total -= lp[i * 21 + static_cast<size_t>(y[i])];
    ++count;
  }
  ASSERT_GT(count, 0);
  EXPECT_NEAR(softmax_cross_entropy(logits, labels).item<float>(), total / count, 1e-5);
}

TEST(CrossEntropy, ManyClasses) {
  // Beyond 64 classes the forward works row by row instead of through transposed tiles.
  Generator gen(13);
  Tensor logits = Tensor::uniform({1, 5, 7, 150}, -4, 4, gen, DType::f64);
  Tensor labels = random_labels<int32_t>({1, 5, 7}, 150, 255, 14);
  EXPECT_NEAR(softmax_cross_entropy(logits, labels).item<double>(), naive_loss(logits, labels, 255), 1e-12);
  EXPECT_NEAR(softmax_cross_entropy(logits.to(DType::f32), labels).item<float>(), naive_loss(logits, labels, 255),
              1e-5);
}

TEST(CrossEntropy, ClassWeightsGiveTheWeightedMean) {
  Generator gen(6);
  Tensor logits = Tensor::uniform({2, 3, 4, 5}, -3, 3, gen, DType::f64);
  Tensor labels = random_labels<int32_t>({2, 3, 4}, 5, 255, 7);
  const std::vector<double> w = {0.5, 2.0, 1.0, 0.25, 3.0};
  CrossEntropyParams params;
  params.class_weights = Tensor::from_vector<double>(w, {5});
  EXPECT_NEAR(softmax_cross_entropy(logits, labels, params).item<double>(), naive_loss(logits, labels, 255, w), 1e-12);
}

TEST(CrossEntropy, CustomIgnoreIndex) {
  // CamVid's void label is 11 with 11 classes; a negative ignore index works for i32 labels.
  Generator gen(8);
  Tensor logits = Tensor::uniform({1, 4, 4, 11}, -2, 2, gen, DType::f64);
  Tensor labels = random_labels<uint8_t>({1, 4, 4}, 11, 11, 9);
  CrossEntropyParams params;
  params.ignore_index = 11;
  EXPECT_NEAR(softmax_cross_entropy(logits, labels, params).item<double>(), naive_loss(logits, labels, 11), 1e-12);
  Tensor labels_neg = random_labels<int32_t>({1, 4, 4}, 11, -1, 9);
  params.ignore_index = -1;
  EXPECT_NEAR(softmax_cross_entropy(logits, labels_neg, params).item<double>(), naive_loss(logits, labels_neg, -1),
              1e-12);
}

TEST(CrossEntropy, AllIgnoredGivesZeroLossAndZeroGradient) {
  Tensor logits = random_input({2, 3, 3, 4}, 10);
  Tensor labels = Tensor::full({2, 3, 3}, 255, DType::u8);
  Tensor loss = softmax_cross_entropy(logits, labels);
  EXPECT_EQ(loss.item<double>(), 0.0);
  loss.backward();
  for (double g : logits.grad().to_double_vector()) EXPECT_EQ(g, 0.0);
}

TEST(CrossEntropy, HugeLogitsStayFinite) {
  Tensor logits = Tensor::from_vector<float>({1000, 0, -1000, 3000, 3000, 0}, {1, 1, 2, 3}).set_requires_grad(true);
  Tensor labels = Tensor::from_vector<int32_t>({1, 0}, {1, 1, 2});
  Tensor loss = softmax_cross_entropy(logits, labels);
  EXPECT_NEAR(loss.item<float>(), (1000.0 + std::log(2.0)) / 2, 1e-3);
  loss.backward();
  const std::vector<double> g = logits.grad().to_double_vector();
  const std::vector<double> want = {0.5, -0.5, 0, -0.25, 0.25, 0};
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-6) << i;
}

TEST(CrossEntropyChecks, BadLabelNamesValueAndPosition) {
  Tensor logits = Tensor::zeros({2, 3, 4, 5});
  std::vector<int32_t> values(24, 1);
  values[1 * 12 + 2 * 4 + 3] = 7;  // n=1, h=2, w=3
  try {
    softmax_cross_entropy(logits, Tensor::from_vector<int32_t>(values, {2, 3, 4}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("softmax_cross_entropy"), std::string::npos) << what;
    EXPECT_NE(what.find("label 7"), std::string::npos) << what;
    EXPECT_NE(what.find("n=1, h=2, w=3"), std::string::npos) << what;
  }
  values[1 * 12 + 2 * 4 + 3] = -1;
  EXPECT_THROW(softmax_cross_entropy(logits, Tensor::from_vector<int32_t>(values, {2, 3, 4})), Error);
  // 255 is only special when it is the ignore index.
  CrossEntropyParams camvid;
  camvid.ignore_index = 11;
  EXPECT_THROW(softmax_cross_entropy(logits, Tensor::full({2, 3, 4}, 255, DType::u8), camvid), Error);
}

TEST(CrossEntropyChecks, BadArgumentsThrowNamingTheOp) {
  Tensor logits = Tensor::zeros({2, 3, 4, 5});
  Tensor labels = Tensor::zeros({2, 3, 4}, DType::i32);
  auto expect_error = [](auto&& call, const char* what) {
    try {
      call();
      ADD_FAILURE() << "expected an error: " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("softmax_cross_entropy"), std::string::npos) << e.what();
    }
  };
  expect_error([&] { softmax_cross_entropy(Tensor::zeros({3, 4, 5}), labels); }, "rank-3 logits");
  expect_error([&] { softmax_cross_entropy(Tensor::zeros({2, 3, 4, 5}, DType::i32), labels); }, "integer logits");
  expect_error([&] { softmax_cross_entropy(logits, Tensor::zeros({2, 3, 4})); }, "float labels");
  expect_error([&] { softmax_cross_entropy(logits, Tensor::zeros({2, 3, 5}, DType::i32)); }, "label shape");
  expect_error([&] { softmax_cross_entropy(logits, Tensor::zeros({2, 3, 4, 1}, DType::i32)); }, "label rank");
  expect_error([&] { softmax_cross_entropy(logits, Tensor()); }, "undefined labels");
  expect_error([&] { softmax_cross_entropy(Tensor::zeros({2, 3, 4, 0}), labels); }, "no classes");
  CrossEntropyParams params;
  params.class_weights = Tensor::ones({4});
  expect_error([&] { softmax_cross_entropy(logits, labels, params); }, "weights of the wrong size");
  params.class_weights = Tensor::ones({5}, DType::f64);
  expect_error([&] { softmax_cross_entropy(logits, labels, params); }, "weights of another dtype");
}
