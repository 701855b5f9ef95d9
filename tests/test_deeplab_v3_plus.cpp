// MobileNetV2, ResNet-18/34 and DeepLabv3+: parameter counts against torchvision's, the atrous plan at every output stride,
// output shapes (odd sizes), the decoder's wiring, and a training step that changes every parameter. Numerical
// parity with a PyTorch reference is in test_pytorch_parity.cpp.
#include <gtest/gtest.h>

#include "core/atrous.h"
#include "models/deeplab_v3_plus.h"
#include "models/mobilenet_v2.h"
#include "models/registry.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;

namespace {

int64_t parameter_count(Module& m) {
  int64_t n = 0;
  for (const NamedTensor& p : m.named_parameters()) n += p.tensor.numel();
  return n;
}

}  // namespace

TEST(MobileNetV2, ParameterCountsMatchTorchvision) {
  Generator gen(1);
  // torchvision 0.14 mobilenet_v2().features: 2,223,872 parameters; features[:18] (DeepLab's encoder): 1,811,712.
  MobileNetV2 full(MobileNetV2Config().with_last_conv(true), gen);
  EXPECT_EQ(parameter_count(full), 2223872);
  EXPECT_EQ(full.out_channels(), 1280);
  MobileNetV2 encoder(MobileNetV2Config(), gen);
  EXPECT_EQ(parameter_count(encoder), 1811712);
  EXPECT_EQ(encoder.out_channels(), 320);
  EXPECT_EQ(encoder.low_level_channels(), 24);
  // Width 0.5 rounds to multiples of 8 (torchvision's _make_divisible): 16, 8, 16, 16, 32, 48, 80, 160.
  MobileNetV2 half(MobileNetV2Config().with_width(0.5), gen);
  EXPECT_EQ(half.out_channels(), 160);
  EXPECT_EQ(half.low_level_channels(), 16);
  EXPECT_EQ(make_divisible(32 * 0.5), 16);
  EXPECT_EQ(make_divisible(24 * 0.35), 8);
  EXPECT_EQ(make_divisible(1280 * 1.4), 1792);
  EXPECT_EQ(make_divisible(96 * 0.75), 72);
}

TEST(MobileNetV2, AtrousPlanAndShapesAtEveryOutputStride) {
  Generator gen(2);
  MobileNetV2 net(MobileNetV2Config(), gen);
  const Tensor x = Tensor::uniform({1, 67, 45, 3}, -1, 1, gen);
  using Plan = std::vector<std::pair<int, int>>;
  // Blocks features.1..17 (stride, rate): TF DeepLab's rule, the block that gives up its stride keeps the rate.
  const Plan os32 = {{1, 1}, {2, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1},
                     {1, 1}, {1, 1}, {1, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1}, {1, 1}};
  const Plan os16 = {{1, 1}, {2, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1},
                     {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 2}, {1, 2}, {1, 2}};
  const Plan os8 = {{1, 1}, {2, 1}, {1, 1}, {2, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 2}, {1, 2},
                    {1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 4}, {1, 4}, {1, 4}};
  for (const auto& [os, plan] : std::vector<std::pair<int, Plan>>{{32, os32}, {16, os16}, {8, os8}, {32, os32}}) {
    SCOPED_TRACE("output stride " + std::to_string(os));
    net.set_output_stride(os);
    EXPECT_EQ(net.block_strides_and_rates(), plan);
    const BackboneFeatures f = net.forward_features(x);
    EXPECT_EQ(f.out.shape(), (Shape{1, (67 + os - 1) / os, (45 + os - 1) / os, 320}));
    EXPECT_EQ(f.low_level.shape(), (Shape{1, 17, 12, 24}));
  }
  expect_error([&] { net.set_output_stride(4); }, {"MobileNetV2", "output stride", "8, 16 or 32"});
  expect_error([&] { net.forward(Tensor::zeros({1, 8, 8, 4})); }, {"MobileNetV2", "[N,H,W,3]"});
}

TEST(DeepLabV3Plus, RegisteredModelsShapesAndParameterCounts) {
  // Counts from the PyTorch reference built in tests/fixtures/make_parity_fixtures.py (5 classes) where one exists; the
  // ResNet variants: torchvision's ResNet body + our ASPP/decoder, counted the same way.
  auto model = create_model("deeplabv3plus-mobilenetv2", {5, 0, 1});
  EXPECT_EQ(parameter_count(*model), 5811941);  // its .parameters(); 5,847,685 with BN running stats
  EXPECT_EQ(model->output_stride(), 16);
  model->eval();
  const Tensor x = Tensor::uniform({2, 65, 57, 3}, -1, 1, default_generator());
  EXPECT_EQ(model->forward(x).shape(), (Shape{2, 17, 15, 5}));
  model->set_output_stride(8);
  EXPECT_EQ(model->forward(x).shape(), (Shape{2, 17, 15, 5}));  // the decoder keeps stride 4
  EXPECT_NE(model->describe().find("ASPP (12,24,36)"), std::string::npos) << model->describe();

  auto mobile = create_model("mobile-deeplabv3", {5, 0, 1});
  mobile->eval();
  EXPECT_EQ(mobile->forward(x).shape(), (Shape{2, 5, 4, 5}));  // logits at stride 16, no decoder
  EXPECT_NE(mobile->describe().find("no decoder"), std::string::npos) << mobile->describe();

  auto resnet = create_model("deeplabv3plus-resnet50", {5, 8, 1});
  resnet->eval();
  EXPECT_EQ(resnet->output_stride(), 8);
  EXPECT_EQ(resnet->forward(Tensor::uniform({1, 33, 41, 3}, -1, 1, default_generator())).shape(),
            (Shape{1, 9, 11, 5}));
}

// One SGD step in training mode moves every parameter: the decoder, both ASPP kinds of branch and the backbone
// all receive gradients (a wiring mistake leaves some untouched).
TEST(DeepLabV3Plus, EveryParameterGetsAGradient) {
  DeepLabV3PlusConfig config = deeplabv3plus_mobilenet_v2_config(3);
  config.mobilenet.width_multiplier = 0.35;
  config.aspp_channels = 16;
  config.decoder_channels = 16;
  config.low_level_channels = 8;
  config.dropout = 0;
  Generator gen(5);
  DeepLabV3Plus model(config, gen);
  model.train();
  const Tensor x = Tensor::uniform({2, 40, 36, 3}, -1, 1, gen);
  const Tensor y = model.forward(x);
  ASSERT_EQ(y.shape(), (Shape{2, 10, 9, 3}));
  sum(mul(y, Tensor::uniform(y.shape(), -1, 1, gen))).backward();
  for (const NamedTensor& p : model.named_parameters()) {
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
    double norm = 0;
    for (double v : p.tensor.grad().to_double_vector()) norm += v * v;
    EXPECT_GT(norm, 0.0) << p.name;
  }
}

TEST(ResNetBasicBlocks, ParameterCountsMatchTorchvisionAndAtrousPlan) {
  Generator gen(6);
  // torchvision 0.14 resnet18()/resnet34() without fc: 11,176,512 and 21,284,672 parameters.
  ResNet r18(ResNetConfig::resnet18(), gen);
  EXPECT_EQ(parameter_count(r18), 11176512);
  EXPECT_EQ(r18.out_channels(), 512);
  EXPECT_EQ(r18.low_level_channels(), 64);
  EXPECT_NE(r18.describe().find("ResNet-18"), std::string::npos) << r18.describe();
  ResNet r34(ResNetConfig::resnet34().with_output_stride(8).with_dilation_rule(DilationRule::Uniform), gen);
  EXPECT_EQ(parameter_count(r34), 21284672);
  EXPECT_NE(r34.describe().find("ResNet-34"), std::string::npos) << r34.describe();
  // At output stride 8 layer3 and layer4 give up their strides; both 3x3 convs of every block take the rate.
  EXPECT_EQ(r34.block_dilations(), (std::vector<std::vector<int>>{{1, 1, 1}, {1, 1, 1, 1}, {2, 2, 2, 2, 2, 2}, {4, 4, 4}}));
  auto& first = dynamic_cast<BasicBlock&>(r34.block(3, 0));
  EXPECT_EQ(first.stride(), 1);
  EXPECT_EQ(first.conv2().options().dilation, 2);
  EXPECT_EQ(first.conv2().options().padding, 2);
  EXPECT_TRUE(first.has_downsample());
  EXPECT_FALSE(r34.block(1, 0).has_downsample());  // 64 -> 64 at stride 1: identity, as torchvision
  const BackboneFeatures f = r34.forward_features(Tensor::uniform({1, 37, 29, 3}, -1, 1, gen));
  EXPECT_EQ(f.out.shape(), (Shape{1, 5, 4, 512}));
  EXPECT_EQ(f.low_level.shape(), (Shape{1, 10, 8, 64}));
  r34.set_output_stride(32);
  EXPECT_EQ(r34.forward(Tensor::uniform({1, 37, 29, 3}, -1, 1, gen)).shape(), (Shape{1, 2, 1, 512}));
  expect_error([&] { r34.bottleneck(1, 0); }, {"ResNet-34", "basic blocks"});

  auto model = create_model("deeplabv3plus-resnet18", {4, 0, 1});
  model->eval();
  EXPECT_EQ(model->forward(Tensor::uniform({1, 33, 41, 3}, -1, 1, gen)).shape(), (Shape{1, 9, 11, 4}));
}
