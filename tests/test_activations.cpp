// MobileNet activations (relu6, hardsigmoid, hardswish) and the squeeze-and-excitation rescale (scale_channels):
// hand-computed values and gradients at the kinks, where PyTorch's conventions decide (checked against torch 1.13's
// scalar CPU kernels, which its CUDA kernels share; see kernels/activation.h for where its vectorised path differs),
// strided inputs, the Module wrappers and argument errors. Finite differences away from the kinks and CUDA run from
// the op case table (tests/op_cases/activation.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/random.h"
#include "layers/simple_layers.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;

namespace {

using UnaryOp = std::function<Tensor(const Tensor&)>;

// The points every activation is checked at: both sides of each kink and the kinks themselves.
const std::vector<double> kPoints = {-4, -3, -1.5, 0, 1.5, 3, 4.5, 6, 7};

struct Expected {
  const char* name;
  UnaryOp op;
  std::vector<double> y;     // at kPoints
  std::vector<double> dydx;  // at kPoints
};

std::vector<Expected> expected_values() {
  return {
      {"relu6", relu6, {0, 0, 0, 0, 1.5, 3, 4.5, 6, 6}, {0, 0, 0, 0, 1, 1, 1, 0, 0}},
      {"hardsigmoid", hardsigmoid, {0, 0, 0.25, 0.5, 0.75, 1, 1, 1, 1}, {0, 0, 1.0 / 6, 1.0 / 6, 1.0 / 6, 0, 0, 0, 0}},
      // x * (x + 3) / 6 between the kinks; gradient x / 3 + 1/2 on [-3, 3] closed (PyTorch): -1/2 at -3, 3/2 at 3.
      {"hardswish", hardswish, {0, 0, -0.375, 0, 1.125, 3, 4.5, 6, 7}, {0, -0.5, 0, 0.5, 1, 1.5, 1, 1, 1}},
  };
}

// An upstream gradient that differs per element (1, 2, 3, ...), so a kernel that ignores it or reads the wrong
// element is caught.
Tensor ramp(size_t n, DType dtype) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i + 1);
  return Tensor::from_vector<double>(v, {static_cast<int64_t>(n)}).to(dtype);
}

}  // namespace

TEST(Activations, ValuesAndGradientsAtTheKinks) {
  for (DType dt : {DType::f32, DType::f64}) {
    for (const Expected& e : expected_values()) {
      SCOPED_TRACE(std::string(e.name) + " " + dtype_name(dt));
      Tensor x = Tensor::from_vector<double>(kPoints, {static_cast<int64_t>(kPoints.size())}).to(dt);
      x.set_requires_grad(true);
      const Tensor y = e.op(x);
      ASSERT_EQ(y.dtype(), dt);
      const std::vector<double> ys = y.to_double_vector();
      const double tol = dt == DType::f32 ? 1e-6 : 1e-15;
      for (size_t i = 0; i < kPoints.size(); ++i) EXPECT_NEAR(ys[i], e.y[i], tol) << "y at x = " << kPoints[i];
      y.backward(ramp(kPoints.size(), dt));
      const std::vector<double> g = x.grad().to_double_vector();
      for (size_t i = 0; i < kPoints.size(); ++i) {
        EXPECT_NEAR(g[i], e.dydx[i] * static_cast<double>(i + 1), tol) << "dy/dx at x = " << kPoints[i];
      }
    }
  }
}

TEST(Activations, NanFollowsPyTorch) {
  // As torch 1.13's scalar and CUDA kernels: every forward propagates NaN; the backward comparisons give relu6 and
  // hardswish gradient 1 there (hardtanh_backward zeroes only x <= 0 or x >= 6; hardswish passes dy through after
  // its last test) and hardsigmoid 0 (its test is -3 < x < 3). Torch's vectorised CPU path differs for NaN.
  const std::vector<std::pair<UnaryOp, double>> cases = {{relu6, 1.0}, {hardsigmoid, 0.0}, {hardswish, 1.0}};
  for (const auto& [op, grad] : cases) {
    Tensor x = Tensor::from_vector<float>({NAN}, {1});
    x.set_requires_grad(true);
    const Tensor y = op(x);
    EXPECT_TRUE(std::isnan(y.to_double_vector()[0]));
    y.backward(Tensor::full({1}, 2.0));
    EXPECT_EQ(x.grad().to_double_vector()[0], 2.0 * grad);
  }
}

TEST(Activations, RandomValuesMatchTheDefinitions) {
  Generator gen(7);
  const Tensor x = Tensor::uniform({3, 5, 7, 11}, -8, 10, gen, DType::f64);
  const std::vector<double> xs = x.to_double_vector();
  const std::vector<double> r6 = relu6(x).to_double_vector(), hs = hardsigmoid(x).to_double_vector(),
                            hw = hardswish(x).to_double_vector();
  for (size_t i = 0; i < xs.size(); ++i) {
    const double v = xs[i], six = std::min(std::max(v + 3, 0.0), 6.0);
    ASSERT_EQ(r6[i], std::min(std::max(v, 0.0), 6.0)) << "relu6 at " << v;
    ASSERT_NEAR(hs[i], six / 6, 1e-15) << "hardsigmoid at " << v;
    ASSERT_NEAR(hw[i], v * six / 6, 1e-14) << "hardswish at " << v;
  }
}

TEST(Activations, StridedInputsGiveTheSameAsContiguous) {
  Generator gen(8);
  const Tensor base = Tensor::uniform({2, 4, 6, 5}, -5, 8, gen, DType::f64);
  const Tensor view = base.permute({0, 2, 1, 3}).slice(3, 1, 4);  // not contiguous
  ASSERT_FALSE(view.is_contiguous());
  for (const Expected& e : expected_values()) {
    SCOPED_TRACE(e.name);
    EXPECT_TRUE(atrous::testing::bitwise_equal(e.op(view), e.op(view.contiguous())));
  }
}

// sigmoid: exact values where they are known, saturation without NaN or overflow far out, the output-based
// gradient y (1 - y), and finite differences.
TEST(Sigmoid, ValuesSaturationAndGradients) {
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = Tensor::from_vector<double>({0.0, 2.0, -2.0, 100.0, -100.0, -1000.0}, {6}).to(dt);
    x.set_requires_grad(true);
    Tensor y = sigmoid(x);
    const std::vector<double> v = y.to_double_vector();
    const double tol = dt == DType::f32 ? 1e-7 : 1e-15;
    EXPECT_EQ(v[0], 0.5);
    EXPECT_NEAR(v[1], 1.0 / (1.0 + std::exp(-2.0)), tol);
    EXPECT_NEAR(v[1] + v[2], 1.0, 2 * tol);  // symmetry
    EXPECT_EQ(v[3], 1.0);
    EXPECT_GE(v[4], 0.0);
    EXPECT_LT(v[4], 1e-40);
    EXPECT_EQ(v[5], 0.0);  // exp(1000) overflows to inf: 1 / inf
    sum(y).backward();
    const std::vector<double> g = x.grad().to_double_vector();
    EXPECT_EQ(g[0], 0.25);
    EXPECT_NEAR(g[1], v[1] * (1 - v[1]), tol);
    EXPECT_EQ(g[5], 0.0);
    for (double d : g) EXPECT_FALSE(std::isnan(d));
  }
  EXPECT_EQ(Sigmoid().forward(Tensor::zeros({3})).to_double_vector(), (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST(ScaleChannels, HandComputedValuesAndGradients) {
  // x [2, 1, 2, 2]: image 0 pixels (1, 2), (3, 4); image 1 pixels (5, 6), (7, 8). s = (10, 100) and (-1, 0.5).
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2});
  Tensor s = Tensor::from_vector<double>({10, 100, -1, 0.5}, {2, 1, 1, 2});
  x.set_requires_grad(true);
  s.set_requires_grad(true);
  const Tensor y = scale_channels(x, s);
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_EQ(y.to_double_vector(), (std::vector<double>{10, 200, 30, 400, -5, 3, -7, 4}));
  const Tensor dy = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2});
  y.backward(dy);
  // dx = dy * s; ds[n, c] = sum over pixels of dy * x: (1*1 + 3*3, 2*2 + 4*4), (5*5 + 7*7, 6*6 + 8*8).
  EXPECT_EQ(x.grad().to_double_vector(), (std::vector<double>{10, 200, 30, 400, -5, 3, -7, 4}));
  EXPECT_EQ(s.grad().shape(), s.shape());
  EXPECT_EQ(s.grad().to_double_vector(), (std::vector<double>{10, 20, 74, 100}));
}

TEST(ScaleChannels, ManyChannelsAndOnePixelPerImage) {
  // More channels than one CPU task's block of 64, and 1x1 images (the SE block's own resolution).
  Generator gen(10);
  for (const Shape& xs : {Shape{2, 3, 5, 130}, Shape{3, 1, 1, 7}}) {
    SCOPED_TRACE(shape_str(xs));
    const Tensor x = Tensor::uniform(xs, -1, 1, gen, DType::f64);
    const Tensor s = Tensor::uniform({xs[0], 1, 1, xs[3]}, -1, 1, gen, DType::f64);
    const std::vector<double> xv = x.to_double_vector(), sv = s.to_double_vector(),
                              y = scale_channels(x, s).to_double_vector();
    const int64_t C = xs[3], P = xs[1] * xs[2];
    for (int64_t i = 0; i < static_cast<int64_t>(xv.size()); ++i) {
      const int64_t n = i / (P * C), c = i % C;
      ASSERT_EQ(y[i], xv[i] * sv[n * C + c]) << "element " << i;
    }
  }
}

TEST(ScaleChannels, GradientOfOneInputAlone) {
  // The backward keeps x only when s needs a gradient and s only when x does: each alone must still be right.
  Generator gen(13);
  const Tensor x0 = Tensor::uniform({2, 3, 4, 5}, -1, 1, gen, DType::f64);
  const Tensor s0 = Tensor::uniform({2, 1, 1, 5}, -1, 1, gen, DType::f64);
  const Tensor dy = Tensor::uniform({2, 3, 4, 5}, -1, 1, gen, DType::f64);
  auto grads = [&](bool gx, bool gs) {
    Tensor x = x0.clone(), s = s0.clone();
    x.set_requires_grad(gx);
    s.set_requires_grad(gs);
    scale_channels(x, s).backward(dy);
    return std::make_pair(x.grad(), s.grad());
  };
  const auto both = grads(true, true);
  const auto only_x = grads(true, false);
  const auto only_s = grads(false, true);
  EXPECT_FALSE(only_x.second.defined());
  EXPECT_FALSE(only_s.first.defined());
  EXPECT_TRUE(atrous::testing::bitwise_equal(only_x.first, both.first));
  EXPECT_TRUE(atrous::testing::bitwise_equal(only_s.second, both.second));
}

TEST(ActivationModules, WrapTheFunctionalOps) {
  Generator gen(14);
  const Tensor x = Tensor::uniform({2, 3, 3, 4}, -5, 8, gen);
  ReLU6 r6;
  Hardsigmoid hs;
  Hardswish hw;
  EXPECT_EQ(r6.type_name(), "ReLU6");
  EXPECT_EQ(hs.type_name(), "Hardsigmoid");
  EXPECT_EQ(hw.type_name(), "Hardswish");
  EXPECT_TRUE(atrous::testing::bitwise_equal(r6.forward(x), relu6(x)));
  EXPECT_TRUE(atrous::testing::bitwise_equal(hs.forward(x), hardsigmoid(x)));
  EXPECT_TRUE(atrous::testing::bitwise_equal(hw.forward(x), hardswish(x)));
  EXPECT_TRUE(r6.named_parameters().empty());
}

TEST(ActivationChecks, BadArgumentsNameTheOpAndTheTensors) {
  for (const Expected& e : expected_values()) {
    expect_error([&] { e.op(Tensor::ones({2, 3}, DType::i32)); }, {e.name, "'x'", "i32[2,3]"});
    expect_error([&] { e.op(Tensor()); }, {e.name, "undefined"});
  }
  const Tensor x = Tensor::ones({2, 3, 3, 5});
  const auto wrong_channels = [&] { scale_channels(x, Tensor::ones({2, 1, 1, 4})); };
  expect_error(wrong_channels, {"scale_channels", "'s' f32[2,1,1,4]", "[N,1,1,C] = [2,1,1,5]", "'x' f32[2,3,3,5]"});
  expect_error([&] { scale_channels(x, Tensor::ones({1, 1, 1, 5})); }, {"scale_channels", "[1,1,1,5]", "[2,3,3,5]"});
  expect_error([&] { scale_channels(x, Tensor::ones({2, 5})); }, {"scale_channels", "f32[2,5]", "[2,3,3,5]"});
  expect_error([&] { scale_channels(x, Tensor::ones({2, 3, 3, 5})); }, {"scale_channels", "[2,3,3,5]", "[2,1,1,5]"});
  const auto x_not_4d = [&] { scale_channels(Tensor::ones({3, 3, 5}), Tensor::ones({1, 1, 5})); };
  expect_error(x_not_4d, {"scale_channels", "'x'", "4-D NHWC", "f32[3,3,5]"});
  const auto mixed_dtypes = [&] { scale_channels(x, Tensor::ones({2, 1, 1, 5}, DType::f64)); };
  expect_error(mixed_dtypes, {"scale_channels", "f32[2,3,3,5]", "f64[2,1,1,5]", "same dtype"});
  expect_error([&] { scale_channels(x, Tensor::ones({2, 1, 1, 5}, DType::i32)); }, {"scale_channels", "'s'", "i32"});
  expect_error([&] { scale_channels(x, Tensor()); }, {"scale_channels", "'s'", "undefined"});
}
