// SGD updates against hand computation, confusion-matrix metrics, synthetic data determinism.
#include <gtest/gtest.h>

#include <cmath>

#include "core/atrous.h"
#include "data/synthetic.h"
#include "eval/metrics.h"
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

// Three steps with a falling lr (0.1, 0.05, 0.02), momentum 0.9, no decay, gradients 1, 2, -1; parameter b is in a
// group at 10x lr. By hand:
//   pytorch  v = m v + g:       1, 2.9, 1.61        a -= lr v:   0.9, 0.755, 0.7228   b -= 10 lr v: 0, -1.45, -1.772
//   caffe    v = m v + lr g:  a: 0.1, 0.19, 0.151   a -= v:      0.9, 0.71, 0.559
//                             b: 1, 1.9, 1.51       b -= v:      0, -1.9, -3.41
TEST(Sgd, CaffeAndPytorchMomentumDifferWhenTheLrChanges) {
  const double lrs[] = {0.1, 0.05, 0.02}, grads[] = {1.0, 2.0, -1.0};
  struct Expected {
    MomentumStyle style;
    double a[3], b[3], va[3], vb[3];
  };
  const Expected cases[] = {
      {MomentumStyle::pytorch, {0.9, 0.755, 0.7228}, {0.0, -1.45, -1.772}, {1, 2.9, 1.61}, {1, 2.9, 1.61}},
      {MomentumStyle::caffe, {0.9, 0.71, 0.559}, {0.0, -1.9, -3.41}, {0.1, 0.19, 0.151}, {1, 1.9, 1.51}},
  };
  double final_a[2] = {};
  for (const Expected& e : cases) {
    SCOPED_TRACE(momentum_styles().name_of(e.style));
    Tensor a = param({1.0}), b = param({1.0});
    SgdOptions o{0.1, 0.9, 0.0, false};
    o.momentum_style = e.style;
    Sgd sgd({ParamGroup{{a}, 1.0, 1.0}, ParamGroup{{b}, 10.0, 1.0}}, o);
    for (int step = 0; step < 3; ++step) {
      sgd.set_lr(lrs[step]);
      set_grad(a, {grads[step]});
      set_grad(b, {grads[step]});
      sgd.step();
      EXPECT_NEAR(a.to_double_vector()[0], e.a[step], 1e-14) << "step " << step + 1;
      EXPECT_NEAR(b.to_double_vector()[0], e.b[step], 1e-14) << "step " << step + 1;
      EXPECT_NEAR(sgd.momentum_buffers()[0].to_double_vector()[0], e.va[step], 1e-14) << "step " << step + 1;
      EXPECT_NEAR(sgd.momentum_buffers()[1].to_double_vector()[0], e.vb[step], 1e-14) << "step " << step + 1;
    }
    final_a[e.style == MomentumStyle::caffe] = a.to_double_vector()[0];
  }
  EXPECT_GT(std::abs(final_a[0] - final_a[1]), 0.1);
}

// With a constant lr, caffe's velocity is lr times pytorch's at every step (v_c = m v_c + lr d = lr (m v_p + d) by
// induction from v_c = lr d = lr v_p at the first step), so w -= v_c and w -= lr v_p are the same update: equal up
// to rounding, and bit for bit when every product is exact (powers of two), weight decay included.
TEST(Sgd, CaffeAndPytorchMomentumAgreeWhenTheLrIsConstant) {
  auto run = [](MomentumStyle style, double lr, double momentum, double decay, const std::vector<double>& gs) {
    Tensor w = param({1.0, -3.0});
    SgdOptions o{lr, momentum, decay, false};
    o.momentum_style = style;
    Sgd sgd({w}, o);
    for (double g : gs) {
      set_grad(w, {g, -2 * g});
      sgd.step();
    }
    return w.to_double_vector();
  };
  const std::vector<double> dyadic = {1.0, 0.5, -2.0, 0.25, 1.0};
  EXPECT_EQ(run(MomentumStyle::caffe, 0.25, 0.5, 0.0, dyadic), run(MomentumStyle::pytorch, 0.25, 0.5, 0.0, dyadic));
  EXPECT_EQ(run(MomentumStyle::caffe, 0.5, 0.5, 0.25, dyadic), run(MomentumStyle::pytorch, 0.5, 0.5, 0.25, dyadic));
  std::vector<double> gs;
  for (int i = 0; i < 50; ++i) gs.push_back(std::sin(0.7 * i) + 0.3);
  const std::vector<double> caffe = run(MomentumStyle::caffe, 0.013, 0.9, 5e-4, gs),
                            pytorch = run(MomentumStyle::pytorch, 0.013, 0.9, 5e-4, gs);
  for (size_t i = 0; i < caffe.size(); ++i) EXPECT_NEAR(caffe[i], pytorch[i], 1e-12);
  // Without momentum there is no velocity and the styles are one update.
  EXPECT_EQ(run(MomentumStyle::caffe, 0.013, 0.0, 5e-4, gs), run(MomentumStyle::pytorch, 0.013, 0.0, 5e-4, gs));
}

TEST(Sgd, MomentumStyleNamesAndNesterovOnlyInPytorchStyle) {
  EXPECT_EQ(momentum_styles().parse("caffe"), MomentumStyle::caffe);
  EXPECT_EQ(momentum_styles().parse("pytorch"), MomentumStyle::pytorch);
  EXPECT_EQ(momentum_styles().name_of(MomentumStyle::caffe), "caffe");
  EXPECT_EQ(SgdOptions{}.momentum_style, MomentumStyle::pytorch);
  try {
    momentum_styles().parse("Caffe");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'Caffe'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pytorch, caffe"), std::string::npos) << e.what();
  }
  SgdOptions o{0.1, 0.9, 0.0, true};
  o.momentum_style = MomentumStyle::caffe;
  Tensor a = param({1.0});
  EXPECT_THROW(Sgd({a}, o), Error);
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
