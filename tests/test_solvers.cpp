// SGD updates against hand computation, confusion-matrix metrics, synthetic data determinism.
#include <gtest/gtest.h>

#include <cmath>

#include "core/atrous.h"
#include "data/synthetic.h"
#include "solvers/metrics.h"
#include "solvers/sgd.h"

using namespace atrous;

namespace {
Tensor param(std::vector<double> values) {
  return Tensor::from_vector<double>(values, {static_cast<int64_t>(values.size())}).set_requires_grad(true);
}
void set_grad(Tensor& p, std::vector<double> g) {
  p.zero_grad();
  sum(mul(p, Tensor::from_vector<double>(g, {static_cast<int64_t>(g.size())}))).backward();
}
}  // namespace

TEST(Sgd, MomentumAndWeightDecayMatchHandComputation) {
  Tensor w = param({1.0, -2.0});
  Sgd sgd({w}, SgdOptions{0.1, 0.9, 0.01, false});
  set_grad(w, {0.5, 1.0});
  sgd.step();
  // d = g + 0.01 w = (0.51, 0.98); v = d; w -= 0.1 v
  EXPECT_NEAR(w.to_double_vector()[0], 1.0 - 0.051, 1e-12);
  EXPECT_NEAR(w.to_double_vector()[1], -2.0 - 0.098, 1e-12);
  const double w0 = w.to_double_vector()[0];
  set_grad(w, {0.5, 1.0});
  sgd.step();
  // v = 0.9 * 0.51 + (0.5 + 0.01 w0)
  const double v0 = 0.9 * 0.51 + 0.5 + 0.01 * w0;
  EXPECT_NEAR(w.to_double_vector()[0], w0 - 0.1 * v0, 1e-12);
}

TEST(Sgd, NesterovAndGroupsMultipliers) {
  Tensor a = param({1.0}), b = param({1.0});
  Sgd sgd({ParamGroup{{a}, 1.0, 1.0}, ParamGroup{{b}, 10.0, 0.0}}, SgdOptions{0.01, 0.9, 0.1, true});
  set_grad(a, {1.0});
  set_grad(b, {1.0});
  sgd.step();
  // a: d = 1 + 0.1 = 1.1, v = 1.1, step = d + 0.9 v = 2.09, lr 0.01
  EXPECT_NEAR(a.to_double_vector()[0], 1.0 - 0.01 * 2.09, 1e-12);
  // b: no decay, lr x10: d = 1, v = 1, step = 1.9
  EXPECT_NEAR(b.to_double_vector()[0], 1.0 - 0.1 * 1.9, 1e-12);
}

TEST(Sgd, SkipsParametersWithoutGradientAndRejectsBadOptions) {
  Tensor a = param({3.0});
  Sgd sgd({a}, SgdOptions{0.1, 0.0, 0.0, false});
  sgd.step();
  EXPECT_EQ(a.to_double_vector()[0], 3.0);
  EXPECT_THROW(Sgd({a}, SgdOptions{-1.0, 0.9, 0, false}), Error);
  EXPECT_THROW(Sgd({a}, SgdOptions{0.1, 0.0, 0, true}), Error);
  EXPECT_THROW(Sgd({Tensor::ones({2})}, SgdOptions{}), Error);  // does not require grad
}

TEST(ConfusionMatrix, HandComputedIoU) {
  // truth:      0 0 1 1 2 255
  // prediction: 0 1 1 1 0 2
  ConfusionMatrix m(3);
  m.add(Tensor::from_vector<int32_t>({0, 1, 1, 1, 0, 2}, {6}), Tensor::from_vector<uint8_t>({0, 0, 1, 1, 2, 255}, {6}));
  const auto iou = m.class_iou();
  EXPECT_DOUBLE_EQ(iou[0], 1.0 / 3.0);  // tp 1, fn 1, fp 1
  EXPECT_DOUBLE_EQ(iou[1], 2.0 / 3.0);  // tp 2, fp 1
  EXPECT_DOUBLE_EQ(iou[2], 0.0);        // tp 0, fn 1
  EXPECT_DOUBLE_EQ(m.mean_iou(), (1.0 / 3.0 + 2.0 / 3.0) / 3.0);
  EXPECT_DOUBLE_EQ(m.pixel_accuracy(), 3.0 / 5.0);
  EXPECT_THROW(m.add(Tensor::from_vector<int32_t>({0}, {1}), Tensor::from_vector<int32_t>({5}, {1})), Error);
  EXPECT_THROW(m.add(Tensor::from_vector<int32_t>({0, 1}, {2}), Tensor::from_vector<int32_t>({0}, {1})), Error);
}

TEST(ConfusionMatrix, AbsentClassIsExcludedFromMean) {
  ConfusionMatrix m(3);
  m.add(Tensor::from_vector<int32_t>({0, 1}, {2}), Tensor::from_vector<int32_t>({0, 1}, {2}));
  EXPECT_TRUE(std::isnan(m.class_iou()[2]));
  EXPECT_DOUBLE_EQ(m.mean_iou(), 1.0);
}

TEST(Synthetic, DeterministicAndLabelledConsistently) {
  SyntheticConfig c;
  c.num_classes = 5;
  SegmentationSample a = make_synthetic_sample(c, 3), b = make_synthetic_sample(c, 3), d = make_synthetic_sample(c, 4);
  EXPECT_EQ(a.image.to_double_vector(), b.image.to_double_vector());
  EXPECT_EQ(a.label.to_double_vector(), b.label.to_double_vector());
  EXPECT_NE(a.image.to_double_vector(), d.image.to_double_vector());
  int foreground = 0;
  for (double v : a.label.to_double_vector()) {
    EXPECT_LT(v, 5);
    foreground += v > 0;
  }
  EXPECT_GT(foreground, 0);
  SegmentationBatch batch = make_synthetic_batch(c, 0, 3);
  EXPECT_EQ(batch.images.shape(), (Shape{3, 64, 64, 3}));
  EXPECT_EQ(batch.labels.shape(), (Shape{3, 64, 64}));
  EXPECT_THROW(make_synthetic_batch(c, 0, 0), Error);
}
