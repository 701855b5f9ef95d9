// MobileNetV3-Large and torchvision's two models on it: parameter counts against torchvision 0.14, the atrous plan
// at every output stride, output shapes, squeeze-and-excitation against its definition. Numerical parity with
// torchvision on imported weights is in test_pytorch_parity.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/atrous.h"
#include "layers/squeeze_excitation.h"
#include "models/mobilenet_v3.h"
#include "models/registry.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;

TEST(MobileNetV3, ParameterCountsMatchTorchvision) {
  Generator gen(1);
  MobileNetV3Large net(16, gen);
  EXPECT_EQ(net.parameter_count(), 2971952);  // torchvision mobilenet_v3_large().features
  EXPECT_EQ(create_model("deeplabv3_mobilenet_v3_large", {21, 0, 1})->parameter_count(), 11025477);
  EXPECT_EQ(create_model("lraspp_mobilenet_v3_large", {21, 0, 1})->parameter_count(), 3221538);
}

TEST(MobileNetV3, AtrousPlanAndShapes) {
  Generator gen(2);
  MobileNetV3Large net(32, gen);
  using Plan = std::vector<std::pair<int, int>>;
  const Plan os32 = {{1, 1}, {2, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1}, {2, 1}, {1, 1},
                     {1, 1}, {1, 1}, {1, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1}};
  // torchvision's dilated=True: block 13 ("C4") keeps stride 1 and, like the two after it, uses rate 2.
  const Plan os16 = {{1, 1}, {2, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1}, {2, 1}, {1, 1},
                     {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 2}, {1, 2}, {1, 2}};
  const Plan os8 = {{1, 1}, {2, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1}, {1, 2}, {1, 2},
                    {1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 4}, {1, 4}, {1, 4}};
  net.eval();
  const Tensor x = Tensor::uniform({1, 67, 53, 3}, -1, 1, gen);
  for (const auto& [os, plan] : std::vector<std::pair<int, Plan>>{{32, os32}, {16, os16}, {8, os8}}) {
    SCOPED_TRACE("output stride " + std::to_string(os));
    net.set_output_stride(os);
    EXPECT_EQ(net.block_strides_and_rates(), plan);
    const BackboneFeatures f = net.forward_features(x, MobileNetV3Large::kStride8Index);
    EXPECT_EQ(f.out.shape(), (Shape{1, (67 + os - 1) / os, (53 + os - 1) / os, 960}));
    EXPECT_EQ(f.low_level.shape(), (Shape{1, 9, 7, 40}));
  }
  expect_error([&] { net.set_output_stride(4); }, {"MobileNetV3Large", "8, 16 or 32"});

  auto lraspp = create_model("lraspp_mobilenet_v3_large", {4, 0, 1});
  lraspp->eval();
  EXPECT_EQ(lraspp->forward(x).shape(), (Shape{1, 9, 7, 4}));  // logits at stride 8
  auto v3 = create_model("deeplabv3_mobilenet_v3_large", {4, 0, 1});
  v3->eval();
  EXPECT_EQ(v3->forward(x).shape(), (Shape{1, 5, 4, 4}));  // at stride 16
  EXPECT_FALSE(v3->definition().align_corners);
}

// x * hardsigmoid(fc2(relu(fc1(mean(x))))) computed by hand for one image.
TEST(SqueezeExcitation, MatchesTheDefinition) {
  Generator gen(3);
  SqueezeExcitation se(6, 8, gen);
  const Tensor x = Tensor::uniform({1, 3, 2, 6}, -2, 2, gen);
  // Biases too (they start at zero), so that every term of the definition counts.
  for (const NamedTensor& p : se.named_parameters()) p.tensor.detach().copy_(Tensor::uniform(p.tensor.shape(), -1, 1, gen));
  const std::vector<double> xv = x.to_double_vector();
  std::vector<double> mean(6, 0.0);
  for (int p = 0; p < 6; ++p)
    for (int c = 0; c < 6; ++c) mean[c] += xv[p * 6 + c] / 6.0;
  auto param = [&](const std::string& name) {
    for (const NamedTensor& p : se.named_parameters())
      if (p.name == name) return p.tensor.to_double_vector();
    ADD_FAILURE() << name;
    return std::vector<double>{};
  };
  const auto w1 = param("fc1.weight"), b1 = param("fc1.bias"), w2 = param("fc2.weight"), b2 = param("fc2.bias");
  std::vector<double> hidden(8), scale(6);
  for (int j = 0; j < 8; ++j) {
    double a = b1[j];
    for (int c = 0; c < 6; ++c) a += w1[j * 6 + c] * mean[c];
    hidden[j] = std::max(a, 0.0);
  }
  for (int c = 0; c < 6; ++c) {
    double a = b2[c];
    for (int j = 0; j < 8; ++j) a += w2[c * 8 + j] * hidden[j];
    scale[c] = std::min(std::max(a + 3.0, 0.0), 6.0) / 6.0;
  }
  const std::vector<double> y = se.forward(x).to_double_vector();
  for (int i = 0; i < 36; ++i) EXPECT_NEAR(y[i], xv[i] * scale[i % 6], 1e-5) << i;
}
