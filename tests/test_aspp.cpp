// ASPP heads: v2 (sum of atrous 3x3 classifiers) and v3 (1x1 + atrous 3x3 + image pooling, concat, projection),
// checked against the same computation written with the functional ops, plus names, rates and argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "core/atrous.h"
#include "layers/aspp.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;

namespace {

std::vector<std::string> parameter_names(const Module& m) {
  std::vector<std::string> names;
  for (const auto& p : m.named_parameters()) names.push_back(p.name);
  return names;
}

}  // namespace

TEST(AsppV2, SumOfAtrousBranchesWithCaffeMultipliers) {
  Generator gen(11);
  AsppV2 aspp(AsppV2Options(6, 3).with_rates({1, 2, 4}), gen);
  EXPECT_EQ(parameter_names(aspp),
            (std::vector<std::string>{"branches.0.weight", "branches.0.bias", "branches.1.weight", "branches.1.bias",
                                      "branches.2.weight", "branches.2.bias"}));
  EXPECT_EQ(aspp.param_options("branches.1.weight").lr_mult, 10.0);
  EXPECT_EQ(aspp.param_options("branches.1.bias").lr_mult, 20.0);
  EXPECT_EQ(aspp.param_options("branches.1.bias").decay_mult, 0.0);
  EXPECT_EQ(aspp.rates(), (std::vector<int>{1, 2, 4}));
  // DeepLab's classifier init: N(0, 0.01) weights, zero bias (biases made non-zero below to test the sum).
  for (size_t i = 0; i < 3; ++i) {
    for (double b : aspp.branch(i).bias().to_double_vector()) EXPECT_EQ(b, 0.0);
    aspp.branch(i).bias().detach().copy_(Tensor::uniform({3}, -1, 1, gen));
  }
  const Tensor x = Tensor::randn({2, 9, 7, 6}, gen);
  Tensor expected = conv_ref(x, aspp.branch(0));
  for (size_t i = 1; i < 3; ++i) expected = add(expected, conv_ref(x, aspp.branch(i)));
  const Tensor y = aspp.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 9, 7, 3}));
  expect_close(y, expected, 1e-5);
  EXPECT_NE(aspp.describe().find("rates 1,2,4"), std::string::npos) << aspp.describe();
}

TEST(AsppV2, SetRatesKeepsSizeAndChecksCount) {
  Generator gen(1);
  AsppV2 aspp(AsppV2Options(4, 2), gen);
  EXPECT_EQ(aspp.rates(), (std::vector<int>{6, 12, 18, 24}));
  aspp.set_rates({3, 6, 9, 12});
  EXPECT_EQ(aspp.rates(), (std::vector<int>{3, 6, 9, 12}));
  EXPECT_EQ(aspp.branch(3).options().padding, 12);
  EXPECT_EQ(aspp.forward(Tensor::randn({1, 5, 6, 4}, gen)).shape(), (Shape{1, 5, 6, 2}));
  EXPECT_THROW(aspp.set_rates({1, 2}), Error);
  EXPECT_THROW(aspp.set_rates({1, 2, 0, 3}), Error);
  EXPECT_THROW(aspp.forward(Tensor::randn({1, 5, 6, 3}, gen)), Error);
  EXPECT_THROW(AsppV2(AsppV2Options(4, 2).with_rates({}), gen), Error);
  EXPECT_THROW(aspp.branch(4), Error);
}

TEST(AsppV3, TorchvisionNamesAndParameterCount) {
  Generator gen(2);
  AsppV3 aspp(AsppV3Options(8, 4).with_rates({1, 2, 3}), gen);
  const auto names = parameter_names(aspp);
  const std::vector<std::string> expected = {
      "convs.0.0.weight", "convs.0.1.weight", "convs.0.1.bias",   "convs.1.0.weight", "convs.1.1.weight",
      "convs.1.1.bias",   "convs.2.0.weight", "convs.2.1.weight", "convs.2.1.bias",   "convs.3.0.weight",
      "convs.3.1.weight", "convs.3.1.bias",   "convs.4.1.weight", "convs.4.2.weight", "convs.4.2.bias",
      "project.0.weight", "project.1.weight", "project.1.bias"};
  EXPECT_EQ(names, expected);
  const auto state = aspp.state_dict();
  EXPECT_TRUE(state.count("convs.4.2.running_var"));
  EXPECT_TRUE(state.count("project.1.running_mean"));
  EXPECT_EQ(state.at("project.0.weight").shape(), (Shape{4, 1, 1, 20}));  // 5 branches x 4 channels
  EXPECT_EQ(state.at("convs.2.0.weight").shape(), (Shape{4, 3, 3, 8}));
  // 1x1 + pooling 1x1 + three 3x3 (no bias) + projection + 5 BN (weight, bias) + projection BN.
  EXPECT_EQ(aspp.parameter_count(), 2 * 4 * 8 + 3 * 4 * 9 * 8 + 4 * 20 + 6 * 2 * 4);
  EXPECT_EQ(aspp.atrous_conv(1).options().dilation, 2);
  EXPECT_EQ(aspp.atrous_conv(2).options().padding, 3);
}

TEST(AsppV3, ImagePoolingBranchIsAnUpsampledConstantMap) {
  Generator gen(6);
  AsppV3 aspp(AsppV3Options(5, 3), gen);
  aspp.eval();
  AsppPooling& pool = *aspp.pooling();
  randomise_bn(pool.bn(), gen);
  const Tensor x = Tensor::randn({2, 6, 7, 5}, gen);
  const Tensor y = pool.forward(x);
  ASSERT_EQ(y.shape(), (Shape{2, 6, 7, 3}));
  // Hand computation: per image, channel means, then 1x1 conv, eval BN, ReLU; the same value at every pixel.
  const auto xv = x.to_double_vector(), yv = y.to_double_vector();
  const auto w = pool.conv().weight().to_double_vector();  // [3,1,1,5]
  const auto g = pool.bn().named_parameters()[0].tensor.to_double_vector();
  const auto b = pool.bn().named_parameters()[1].tensor.to_double_vector();
  const auto rm = pool.bn().named_buffers()[0].tensor.to_double_vector();
  const auto rv = pool.bn().named_buffers()[1].tensor.to_double_vector();
  bool some_positive = false;
  for (int n = 0; n < 2; ++n) {
    double mean[5] = {0, 0, 0, 0, 0};
    for (int p = 0; p < 42; ++p)
      for (int c = 0; c < 5; ++c) mean[c] += xv[(n * 42 + p) * 5 + c] / 42.0;
    for (int o = 0; o < 3; ++o) {
      double z = 0;
      for (int c = 0; c < 5; ++c) z += w[o * 5 + c] * mean[c];
      const double expected = std::max(0.0, (z - rm[o]) / std::sqrt(rv[o] + 1e-5) * g[o] + b[o]);
      some_positive |= expected > 0;
      for (int p = 0; p < 42; ++p) ASSERT_NEAR(yv[(n * 42 + p) * 3 + o], expected, 1e-5) << n << " " << p << " " << o;
    }
  }
  EXPECT_TRUE(some_positive);
  // PyTorch refuses batch statistics from one value per channel; so does our BN (batch 1 in training mode).
  aspp.train();
  EXPECT_THROW(pool.forward(Tensor::randn({1, 4, 4, 5}, gen)), Error);
}

TEST(AsppV3, ForwardMatchesFunctionalComposition) {
  Generator gen(4);
  AsppV3 aspp(AsppV3Options(6, 4).with_rates({1, 2, 3}).with_dropout(0.5), gen);
  aspp.eval();  // dropout off, running statistics
  std::vector<BatchNorm2d*> bns;
  std::function<void(Module&)> visit = [&](Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) bns.push_back(bn);
    for (auto& c : m.children()) visit(*c.second);
  };
  visit(aspp);
  ASSERT_EQ(bns.size(), 6u);
  for (BatchNorm2d* bn : bns) randomise_bn(*bn, gen);

  const Tensor x = Tensor::randn({2, 8, 5, 6}, gen);
  auto state = aspp.state_dict();
  auto conv_of = [&](const std::string& name, int dilation) {
    const Tensor& w = state.at(name);
    return [w, dilation](const Tensor& in) {
      return conv2d(in, w.detach(), Tensor(),
                    Conv2dParams().with_dilation(dilation).with_padding(dilation * (w.size(1) - 1) / 2));
    };
  };
  auto bn_of = [&](const std::string& prefix) {
    BatchNormParams p;
    p.mode = BatchNormMode::Eval;
    const Tensor g = state.at(prefix + ".weight").detach(), b = state.at(prefix + ".bias").detach();
    const Tensor rm = state.at(prefix + ".running_mean").clone(), rv = state.at(prefix + ".running_var").clone();
    return [=](const Tensor& in) { return batch_norm(in, g, b, rm, rv, p); };
  };
  std::vector<Tensor> parts;
  parts.push_back(relu(bn_of("convs.0.1")(conv_of("convs.0.0.weight", 1)(x))));
  for (int i = 1; i <= 3; ++i) {
    const std::string k = "convs." + std::to_string(i);
    parts.push_back(relu(bn_of(k + ".1")(conv_of(k + ".0.weight", i)(x))));
  }
  const Tensor pooled = relu(bn_of("convs.4.2")(conv_of("convs.4.1.weight", 1)(global_avg_pool(x))));
  parts.push_back(resize_bilinear(pooled, ResizeParams::to_size(8, 5, false)));
  const Tensor expected = relu(bn_of("project.1")(conv_of("project.0.weight", 1)(concat_channels(parts))));
  expect_close(aspp.forward(x), expected, 1e-4);
  EXPECT_NE(aspp.describe().find("dropout 0.5"), std::string::npos) << aspp.describe();
}

TEST(AsppV3, TrainingStepGivesGradientsToEveryParameter) {
  Generator gen(5);
  AsppV3 aspp(AsppV3Options(4, 3).with_rates({1, 2, 4}), gen);
  const Tensor x = Tensor::randn({2, 7, 6, 4}, gen);
  const Tensor loss = sum(mul(aspp.forward(x), Tensor::randn({2, 7, 6, 3}, gen)));
  loss.backward();
  for (const auto& p : aspp.named_parameters()) {
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
    double norm = 0;
    for (double g : p.tensor.grad().to_double_vector()) {
      ASSERT_TRUE(std::isfinite(g)) << p.name;
      norm += g * g;
    }
    EXPECT_GT(norm, 0) << p.name;
  }
}

TEST(AsppV3, SetRatesAndArgumentChecks) {
  Generator gen(6);
  AsppV3 aspp(AsppV3Options(4, 2), gen);
  EXPECT_EQ(aspp.rates(), (std::vector<int>{6, 12, 18}));
  aspp.set_rates({12, 24, 36});
  EXPECT_EQ(aspp.rates(), (std::vector<int>{12, 24, 36}));
  EXPECT_EQ(aspp.atrous_conv(2).options().padding, 36);
  EXPECT_THROW(aspp.set_rates({1, 2}), Error);
  EXPECT_THROW(aspp.set_rates({1, 0, 2}), Error);
  EXPECT_THROW(aspp.atrous_conv(3), Error);
  EXPECT_THROW(aspp.forward(Tensor::randn({2, 5, 5, 3}, gen)), Error);
  // No atrous branch at all is allowed: the 1x1 branch and image pooling (Mobile DeepLabv3's head).
  AsppV3 pooling_only(AsppV3Options(4, 2).with_rates({}), gen);
  EXPECT_TRUE(pooling_only.rates().empty());
  pooling_only.eval();
  EXPECT_EQ(pooling_only.forward(Tensor::uniform({1, 5, 5, 4}, -1, 1, gen)).shape(), (Shape{1, 5, 5, 2}));
  EXPECT_NE(pooling_only.describe().find("1x1 + image pooling"), std::string::npos) << pooling_only.describe();
  EXPECT_THROW(pooling_only.set_rates({3}), Error);
  EXPECT_THROW(AsppV3(AsppV3Options(4, 2).with_dropout(1.0), gen), Error);
  EXPECT_THROW(AsppV3(AsppV3Options(0, 2), gen), Error);
  ModuleList list;
  EXPECT_THROW(list.forward(Tensor::zeros({1, 1, 1, 1})), Error);
}

TEST(AsppV3, WithoutImagePooling) {
  Generator gen(7);
  AsppV3 aspp(AsppV3Options(4, 2).with_image_pooling(false).with_rates({1, 2}), gen);
  EXPECT_EQ(aspp.pooling(), nullptr);
  EXPECT_EQ(aspp.state_dict().at("project.0.weight").shape(), (Shape{2, 1, 1, 6}));
  EXPECT_EQ(aspp.forward(Tensor::randn({2, 3, 3, 4}, gen)).shape(), (Shape{2, 3, 3, 2}));
}
