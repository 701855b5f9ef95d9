// Golden tests: our f32 ops (forward and gradients) against PyTorch on the fixtures in tests/fixtures, written by
// tests/fixtures/make_fixtures.py (PyTorch computes in f64 on f32 inputs, so the fixtures are the correctly rounded answer).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/ops/activation.h"
#include "core/ops/argmax.h"
#include "core/ops/batch_norm.h"
#include "core/ops/concat.h"
#include "core/ops/conv2d.h"
#include "core/ops/cross_entropy.h"
#include "core/ops/elementwise.h"
#include "core/ops/pooling.h"
#include "core/ops/resize.h"
#include "core/ops/softmax.h"
#include "support/fixtures.h"

using namespace atrous;
using atrous::testing::all_close;
using atrous::testing::has_fixture;
using atrous::testing::load_fixture;
using atrous::testing::Tolerance;

namespace {

// fp32 tolerances, about 5-10x the largest errors seen (ATROUS_GOLDEN_VERBOSE=1 prints them); a wrong convention
// (padding, corners, ceil mode, ignore label, biased variance) shows up as errors of 1e-3 and more.
constexpr Tolerance kExact{1e-7, 0.0};       // copies and selections: max/argmax pooling, concat
constexpr Tolerance kPointwise{5e-6, 2e-5};  // a handful of terms per output: pooling, resize, softmax, loss
constexpr Tolerance kReduction{1e-4, 2e-4};  // hundreds of O(1) terms per output: conv, batch norm

Tensor leaf(const std::string& c, const std::string& name) {
  Tensor t = load_fixture(c, name);
  t.set_requires_grad(true);
  return t;
}

std::vector<double> params(const std::string& c) { return load_fixture(c, "params").to_double_vector(); }

void expect_matches(const std::string& c, const std::string& name, const Tensor& actual, const Tolerance& tol) {
  EXPECT_TRUE(all_close(c + "/" + name, actual, load_fixture(c, name), tol));
}

// Runs backward from `y` with the fixture's upstream gradient.
void backward_with_fixture(const std::string& c, const Tensor& y) { y.backward(load_fixture(c, "grad_y")); }

// ---- conv2d ----

class GoldenConv2d : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenConv2d, ForwardAndGradients) {
  const std::string c = GetParam();
  const std::vector<double> p = params(c);  // stride, padding, dilation, has_bias[, groups]
  const Conv2dParams conv{static_cast<int>(p[0]), static_cast<int>(p[1]), static_cast<int>(p[2]),
                          p.size() > 4 ? static_cast<int>(p[4]) : 1};
  const bool has_bias = p[3] != 0;
  Tensor x = leaf(c, "x"), w = leaf(c, "weight");
  Tensor b = has_bias ? leaf(c, "bias") : Tensor();
  const Tensor y = conv2d(x, w, b, conv);
  expect_matches(c, "y", y, kReduction);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kReduction);
  expect_matches(c, "grad_weight", w.grad(), kReduction);
  if (has_bias) expect_matches(c, "grad_bias", b.grad(), kReduction);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenConv2d,
                         ::testing::Values("conv2d_3x3_stride2", "conv2d_3x3_dilation2", "conv2d_3x3_dilation12",
                                           "conv2d_3x3_dilation12_nobias", "conv2d_1x1",
                                           "conv2d_5x5_stride2_dilation2_odd", "conv2d_depthwise_3x3_stride2",
                                           "conv2d_depthwise_3x3_dilation4", "conv2d_depthwise_multiplier2",
                                           "conv2d_groups2"));

// ---- batch norm ----

class GoldenBatchNorm : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenBatchNorm, ForwardGradientsAndRunningStats) {
  const std::string c = GetParam();
  const std::vector<double> p = params(c);  // momentum, eps
  BatchNormParams bn;
  bn.mode = c == "batch_norm_train" ? BatchNormMode::Train : BatchNormMode::Eval;
  bn.momentum = p[0];
  bn.eps = p[1];
  Tensor x = leaf(c, "x"), weight = leaf(c, "weight"), bias = leaf(c, "bias");
  Tensor running_mean = load_fixture(c, "running_mean"), running_var = load_fixture(c, "running_var");
  const Tensor y = batch_norm(x, weight, bias, running_mean, running_var, bn);
  expect_matches(c, "y", y, kReduction);
  expect_matches(c, "running_mean_out", running_mean, kPointwise);
  expect_matches(c, "running_var_out", running_var, kPointwise);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kReduction);
  expect_matches(c, "grad_weight", weight.grad(), kReduction);
  expect_matches(c, "grad_bias", bias.grad(), kReduction);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenBatchNorm, ::testing::Values("batch_norm_train", "batch_norm_eval"));

// ---- pooling ----

Pool2dParams pool_params(const std::string& c) {
  const std::vector<double> p = params(c);  // kernel, stride, padding, ceil_mode, count_include_pad
  return Pool2dParams{}
      .with_kernel(static_cast<int>(p[0]))
      .with_stride(static_cast<int>(p[1]))
      .with_padding(static_cast<int>(p[2]))
      .with_ceil_mode(p[3] != 0)
      .with_count_include_pad(p[4] != 0);
}

class GoldenMaxPool : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenMaxPool, ForwardAndGradient) {
  const std::string c = GetParam();
  Tensor x = leaf(c, "x");
  const Tensor y = max_pool2d(x, pool_params(c));
  expect_matches(c, "y", y, kExact);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kPointwise);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenMaxPool,
                         ::testing::Values("max_pool2d_3x3_s2_p1_ceil", "max_pool2d_3x3_s1_p1"));

class GoldenAvgPool : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenAvgPool, ForwardAndGradient) {
  const std::string c = GetParam();
  Tensor x = leaf(c, "x");
  const Tensor y = avg_pool2d(x, pool_params(c));
  expect_matches(c, "y", y, kPointwise);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kPointwise);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenAvgPool,
                         ::testing::Values("avg_pool2d_3x3_s1_p1", "avg_pool2d_3x3_s2_p1_ceil",
                                           "avg_pool2d_3x3_s2_p1_ceil_exclude_pad"));

TEST(GoldenGlobalAvgPool, ForwardAndGradient) {
  const std::string c = "global_avg_pool";
  Tensor x = leaf(c, "x");
  const Tensor y = global_avg_pool(x);
  expect_matches(c, "y", y, kPointwise);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kPointwise);
}

// ---- bilinear resize ----

class GoldenResize : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenResize, ForwardAndGradient) {
  const std::string c = GetParam();
  const std::vector<double> p = params(c);  // out_h, out_w, align_corners
  Tensor x = leaf(c, "x");
  const Tensor y = resize_bilinear(x, ResizeParams::to_size(static_cast<int64_t>(p[0]), static_cast<int64_t>(p[1]),
                                                            p[2] != 0));
  expect_matches(c, "y", y, kPointwise);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kPointwise);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenResize,
                         ::testing::Values("resize_up_align_corners", "resize_up_half_pixel",
                                           "resize_down_align_corners", "resize_down_half_pixel",
                                           "resize_up_uneven_half_pixel"));

// ---- softmax and the loss ----

TEST(GoldenSoftmax, SoftmaxForwardAndGradient) {
  const std::string c = "softmax";
  Tensor x = leaf(c, "x");
  const Tensor y = softmax(x);
  expect_matches(c, "y", y, kPointwise);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kPointwise);
}

TEST(GoldenSoftmax, LogSoftmaxForwardAndGradient) {
  const std::string c = "log_softmax";
  Tensor x = leaf(c, "x");
  const Tensor y = log_softmax(x);
  expect_matches(c, "y", y, kPointwise);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kPointwise);
}

class GoldenCrossEntropy : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenCrossEntropy, LossAndGradient) {
  const std::string c = GetParam();
  Tensor logits = leaf(c, "logits");
  CrossEntropyParams ce;
  ce.ignore_index = 255;
  if (has_fixture(c, "class_weights")) ce.class_weights = load_fixture(c, "class_weights");
  const Tensor loss = softmax_cross_entropy(logits, load_fixture(c, "labels"), ce);
  EXPECT_EQ(loss.dim(), 0);
  expect_matches(c, "loss", loss.reshape({1}), kPointwise);
  loss.backward();
  expect_matches(c, "grad_logits", logits.grad(), kPointwise);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenCrossEntropy,
                         ::testing::Values("cross_entropy_ignore", "cross_entropy_weighted"));

// ---- concat, argmax ----

TEST(GoldenConcat, ForwardAndGradients) {
  const std::string c = "concat_channels";
  std::vector<Tensor> xs = {leaf(c, "x0"), leaf(c, "x1"), leaf(c, "x2")};
  const Tensor y = concat_channels(xs);
  expect_matches(c, "y", y, kExact);
  backward_with_fixture(c, y);
  for (size_t i = 0; i < xs.size(); ++i) expect_matches(c, "grad_x" + std::to_string(i), xs[i].grad(), kExact);
}

TEST(GoldenArgmax, Channels) {
  const std::string c = "argmax_channels";
  const Tensor y = argmax_channels(load_fixture(c, "x"));
  EXPECT_EQ(y.dtype(), DType::i32);
  expect_matches(c, "y", y, Tolerance{0.0, 0.0});
}

// ---- MobileNet activations and the squeeze-and-excitation rescale ----

class GoldenActivation : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenActivation, ForwardAndGradient) {
  const std::string c = GetParam();  // the case is named after the op; its x holds the kinks themselves too
  Tensor x = leaf(c, "x");
  const Tensor y = c == "relu6" ? relu6(x) : c == "hardsigmoid" ? hardsigmoid(x) : hardswish(x);
  expect_matches(c, "y", y, kPointwise);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kPointwise);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenActivation, ::testing::Values("relu6", "hardsigmoid", "hardswish"));

TEST(GoldenScaleChannels, ForwardAndGradients) {
  const std::string c = "scale_channels";
  Tensor x = leaf(c, "x"), s = leaf(c, "s");
  const Tensor y = scale_channels(x, s);
  expect_matches(c, "y", y, kPointwise);
  backward_with_fixture(c, y);
  expect_matches(c, "grad_x", x.grad(), kPointwise);
  expect_matches(c, "grad_s", s.grad(), kPointwise);  // sums of 35 products
}

// ---- a miniature DeepLab-LargeFOV training step ----

TEST(GoldenDeepLabStack, LossAndEveryGradient) {
  const std::string c = "deeplab_stack";
  Tensor x = leaf(c, "x");
  Tensor w1 = leaf(c, "conv1_weight"), b1 = leaf(c, "conv1_bias");
  Tensor bn_w = leaf(c, "bn_weight"), bn_b = leaf(c, "bn_bias");
  Tensor w2 = leaf(c, "conv2_weight"), b2 = leaf(c, "conv2_bias");
  const Tensor labels = load_fixture(c, "labels");
  Tensor running_mean = Tensor::zeros({w1.size(0)}), running_var = Tensor::ones({w1.size(0)});

  Tensor a = conv2d(x, w1, b1, Conv2dParams{}.with_padding(12).with_dilation(12));
  a = batch_norm(a, bn_w, bn_b, running_mean, running_var, BatchNormParams{BatchNormMode::Train, 0.1, 1e-5});
  a = relu(a);
  a = max_pool2d(a, Pool2dParams{}.with_kernel(3).with_stride(2).with_padding(1).with_ceil_mode(true));
  const Tensor logits_small = conv2d(a, w2, b2);
  const Tensor logits = resize_bilinear(logits_small, ResizeParams::to_size(labels.size(1), labels.size(2), true));
  const Tensor loss = softmax_cross_entropy(logits, labels);

  expect_matches(c, "logits_small", logits_small, kReduction);
  expect_matches(c, "logits", logits, kReduction);
  expect_matches(c, "loss", loss.reshape({1}), kReduction);
  expect_matches(c, "running_mean_out", running_mean, kPointwise);
  expect_matches(c, "running_var_out", running_var, kPointwise);

  loss.backward();
  const Tolerance grads{2e-7, 1e-3};  // gradients of a mean loss: d/dx is O(1e-3), d/d(conv1 bias) is 0
  expect_matches(c, "grad_x", x.grad(), grads);
  expect_matches(c, "grad_conv1_weight", w1.grad(), grads);
  expect_matches(c, "grad_conv1_bias", b1.grad(), grads);
  expect_matches(c, "grad_bn_weight", bn_w.grad(), grads);
  expect_matches(c, "grad_bn_bias", bn_b.grad(), grads);
  expect_matches(c, "grad_conv2_weight", w2.grad(), grads);
  expect_matches(c, "grad_conv2_bias", b2.grad(), grads);
}

}  // namespace
