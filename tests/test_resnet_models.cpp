// ResNet-50/101 (atrous, torchvision layout), Bottleneck, DeepLab v2 ResNet (ASPP-L) and DeepLabv3 (paper and
// torchvision definitions): dilation plans, parameter counts and names against torchvision, output strides,
// switching the output stride with the same weights, training steps and frozen BN.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "core/atrous.h"
#include "layers/bottleneck.h"
#include "models/deeplab_v2_resnet.h"
#include "models/deeplab_v3.h"
#include "models/multi_scale.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;

namespace {

// Reference numbers, computed once with Debian's torchvision 0.14.1 (no weights downloaded):
//   sum(p.numel() for n, p in resnet50(weights=None).named_parameters() if not n.startswith("fc."))
//   sum(p.numel() for p in deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21,
//                                             aux_loss=False).parameters())
//   len([k for k in <that model>.state_dict() if not k.endswith("num_batches_tracked")])
// and the same for the 101-layer models.
constexpr int64_t kTorchvisionResNet50Params = 23508032;       // without fc
constexpr int64_t kTorchvisionResNet101Params = 42500160;      // without fc
constexpr int64_t kTorchvisionDeepLabV3R50Params = 39638869;   // 21 classes
constexpr int64_t kTorchvisionDeepLabV3R101Params = 58630997;  // 21 classes
constexpr size_t kTorchvisionDeepLabV3R50Tensors = 302;
constexpr size_t kTorchvisionDeepLabV3R101Tensors = 557;

Tensor bn_ref(const Tensor& x, BatchNorm2d& bn) {
  BatchNormParams p;
  p.mode = BatchNormMode::Eval;
  return batch_norm(x, bn.named_parameters()[0].tensor.detach(), bn.named_parameters()[1].tensor.detach(),
                    bn.named_buffers()[0].tensor.clone(), bn.named_buffers()[1].tensor.clone(), p);
}

bool all_finite(const Tensor& t) {
  for (double v : t.to_double_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

ModelOptions options(int classes, int output_stride = 0, uint64_t seed = 1) {
  ModelOptions o;
  o.num_classes = classes;
  o.output_stride = output_stride;
  o.seed = seed;
  return o;
}

template <typename M>
std::shared_ptr<M> create(const std::string& name, const ModelOptions& o) {
  auto model = std::dynamic_pointer_cast<M>(create_model(name, o));
  EXPECT_NE(model, nullptr) << name;
  return model;
}

// The big models are built once for the whole binary.
DeepLabV3& torchvision_r50() {
  static auto model = create<DeepLabV3>("deeplabv3_resnet50", options(21));
  return *model;
}

Tensor labels_for(const Tensor& logits, int classes, Generator& gen) {
  const int64_t n = logits.size(0), h = logits.size(1), w = logits.size(2);
  std::vector<int32_t> values(n * h * w);
  const auto u = Tensor::uniform({n * h * w}, 0, 1, gen).to_double_vector();
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = u[i] < 0.1 ? 255 : static_cast<int32_t>(u[i] * classes) % classes;
  return Tensor::from_vector(values, {n, h, w});
}

}  // namespace

// ---- dilation plans (no weights) ----

TEST(ResNetPlan, TorchvisionRuleKeepsThePreviousRateInTheFirstDilatedBlock) {
  const ResNetConfig r50 = ResNetConfig::resnet50();
  // replace_stride_with_dilation [False, True, True] (output stride 8), as torchvision's _make_layer plans it.
  ResNetDilationPlan p = resnet_dilation_plan(r50, 8);
  EXPECT_EQ(p.layer_stride, (std::vector<int>{1, 2, 1, 1}));
  EXPECT_EQ(p.layer_rate, (std::vector<int>{1, 1, 2, 4}));
  EXPECT_EQ(p.block_dilation[2], (std::vector<int>{1, 2, 2, 2, 2, 2}));
  EXPECT_EQ(p.block_dilation[3], (std::vector<int>{2, 4, 4}));
  p = resnet_dilation_plan(r50, 16);
  EXPECT_EQ(p.layer_stride, (std::vector<int>{1, 2, 2, 1}));
  EXPECT_EQ(p.block_dilation[2], std::vector<int>(6, 1));
  EXPECT_EQ(p.block_dilation[3], (std::vector<int>{1, 2, 2}));
  p = resnet_dilation_plan(r50, 32);
  EXPECT_EQ(p.layer_stride, (std::vector<int>{1, 2, 2, 2}));
  for (const auto& layer : p.block_dilation)
    for (int d : layer) EXPECT_EQ(d, 1);
  EXPECT_EQ(resnet_dilation_plan(ResNetConfig::resnet101(), 8).block_dilation[2].size(), 23u);
}

TEST(ResNetPlan, MultiGridMultipliesTheUnitRatesOfLayer4) {
  const ResNetConfig c = ResNetConfig::resnet101().with_multi_grid({1, 2, 4});
  EXPECT_EQ(resnet_dilation_plan(c, 16).block_dilation[3], (std::vector<int>{2, 4, 8}));  // DeepLabv3 Sec. 3.2.1
  EXPECT_EQ(resnet_dilation_plan(c, 8).block_dilation[3], (std::vector<int>{4, 8, 16}));
  EXPECT_EQ(resnet_dilation_plan(c, 32).block_dilation[3], (std::vector<int>{1, 2, 4}));
  // layer3 still follows the torchvision rule at output stride 8.
  EXPECT_EQ(resnet_dilation_plan(c, 8).block_dilation[2][0], 1);
  EXPECT_EQ(resnet_dilation_plan(c, 8).block_dilation[2][1], 2);
}

TEST(ResNetPlan, UniformRuleDilatesEveryBlockOfAnAtrousLayer) {
  // Caffe DeepLab v2 (res4a_branch2b at rate 2, res5a_branch2b at 4) and TF DeepLabv3's stack_blocks_dense.
  const ResNetConfig c = ResNetConfig::resnet101().with_dilation_rule(DilationRule::Uniform);
  ResNetDilationPlan p = resnet_dilation_plan(c, 8);
  EXPECT_EQ(p.layer_stride, (std::vector<int>{1, 2, 1, 1}));
  EXPECT_EQ(p.block_dilation[2], std::vector<int>(23, 2));
  EXPECT_EQ(p.block_dilation[3], std::vector<int>(3, 4));
  p = resnet_dilation_plan(c, 16);
  EXPECT_EQ(p.block_dilation[2], std::vector<int>(23, 1));
  EXPECT_EQ(p.block_dilation[3], std::vector<int>(3, 2));
  EXPECT_EQ(resnet_dilation_plan(ResNetConfig(c).with_multi_grid({1, 2, 4}), 8).block_dilation[3],
            (std::vector<int>{4, 8, 16}));
  EXPECT_EQ(resnet_rates_summary(c, 8), "layer3 rate 2, layer4 rate 4");
  EXPECT_EQ(resnet_rates_summary(ResNetConfig::resnet50(), 8),
            "layer3 rate 2 (first block 1), layer4 rate 4 (first block 2)");
  EXPECT_EQ(resnet_rates_summary(ResNetConfig::resnet50(), 32), "no atrous layers");
}

TEST(ResNetPlan, CascadedCopiesDoubleTheRate) {
  const ResNetConfig c = ResNetConfig::resnet101().with_multi_grid({1, 2, 1}).with_cascaded_layers(3);
  ResNetDilationPlan p = resnet_dilation_plan(c, 16);
  ASSERT_EQ(p.block_dilation.size(), 7u);
  EXPECT_EQ(p.layer_stride, (std::vector<int>{1, 2, 2, 1, 1, 1, 1}));
  EXPECT_EQ(p.layer_rate, (std::vector<int>{1, 1, 1, 2, 4, 8, 16}));
  EXPECT_EQ(p.block_dilation[3], (std::vector<int>{2, 4, 2}));
  EXPECT_EQ(p.block_dilation[4], (std::vector<int>{4, 8, 4}));
  EXPECT_EQ(p.block_dilation[6], (std::vector<int>{16, 32, 16}));
  p = resnet_dilation_plan(c, 32);  // layer4 strides; the copies become atrous
  EXPECT_EQ(p.layer_rate, (std::vector<int>{1, 1, 1, 1, 2, 4, 8}));
}

TEST(ResNetPlan, ArgumentChecks) {
  const ResNetConfig c = ResNetConfig::resnet50();
  EXPECT_THROW(resnet_dilation_plan(c, 4), Error);
  EXPECT_THROW(resnet_dilation_plan(c, 12), Error);
  EXPECT_THROW(resnet_dilation_plan(ResNetConfig(c).with_multi_grid({1, 2}), 16), Error);
  EXPECT_THROW(resnet_dilation_plan(ResNetConfig(c).with_multi_grid({1, 0, 2}), 16), Error);
  EXPECT_THROW(resnet_dilation_plan(ResNetConfig(c).with_cascaded_layers(-1), 16), Error);
  ResNetConfig bad = c;
  bad.blocks = {3, 4, 6};
  EXPECT_THROW(resnet_dilation_plan(bad, 16), Error);
  EXPECT_EQ(resnet_depth(ResNetConfig::resnet50()), 50);
  EXPECT_EQ(resnet_depth(ResNetConfig::resnet101()), 101);
}

// ---- Bottleneck ----

TEST(Bottleneck, NamesShapesAndFunctionalComposition) {
  Generator gen(3);
  Bottleneck proj(BottleneckOptions(6, 2, 2), gen);
  std::vector<std::string> names;
  for (const auto& p : proj.named_parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight",
                                             "bn2.bias", "conv3.weight", "bn3.weight", "bn3.bias",
                                             "downsample.0.weight", "downsample.1.weight", "downsample.1.bias"}));
  EXPECT_EQ(proj.state_dict().at("conv2.weight").shape(), (Shape{2, 3, 3, 2}));
  EXPECT_EQ(proj.state_dict().at("downsample.0.weight").shape(), (Shape{8, 1, 1, 6}));
  EXPECT_EQ(proj.conv2().options().stride, 2);  // torchvision v1.5: the stride sits on the 3x3 conv
  EXPECT_EQ(proj.conv1().options().stride, 1);
  EXPECT_EQ(proj.downsample_conv()->options().stride, 2);

  proj.eval();
  std::function<void(Module&)> randomise = [&](Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) randomise_bn(*bn, gen);
    for (auto& c : m.children()) randomise(*c.second);
  };
  randomise(proj);
  const Tensor x = Tensor::randn({2, 7, 9, 6}, gen);
  Tensor h = relu(bn_ref(conv_ref(x, proj.conv1()), proj.bn1()));
  h = relu(bn_ref(conv_ref(h, proj.conv2()), proj.bn2()));
  h = bn_ref(conv_ref(h, proj.conv3()), proj.bn3());
  auto& ds_bn = *std::dynamic_pointer_cast<BatchNorm2d>(
      std::dynamic_pointer_cast<Sequential>(proj.children().back().second)->children()[1].second);
  const Tensor expected = relu(add(h, bn_ref(conv_ref(x, *proj.downsample_conv()), ds_bn)));
  const Tensor y = proj.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 4, 5, 8}));  // ceil(7/2), ceil(9/2)
  expect_close(y, expected, 1e-4);

  // Identity shortcut at rate 2.
  Bottleneck identity(BottleneckOptions(8, 2, 1, 2), gen);
  EXPECT_FALSE(identity.has_downsample());
  identity.eval();
  randomise(identity);
  const Tensor x2 = Tensor::randn({1, 6, 5, 8}, gen);
  Tensor g = relu(bn_ref(conv_ref(x2, identity.conv1()), identity.bn1()));
  g = relu(bn_ref(conv_ref(g, identity.conv2()), identity.bn2()));
  g = bn_ref(conv_ref(g, identity.conv3()), identity.bn3());
  EXPECT_EQ(identity.conv2().options().padding, 2);
  expect_close(identity.forward(x2), relu(add(g, x2)), 1e-4);
}

TEST(Bottleneck, StrideAndDilationChangesAndChecks) {
  Generator gen(4);
  Bottleneck proj(BottleneckOptions(4, 2, 2), gen);
  proj.set_stride(1);
  proj.set_dilation(4);
  EXPECT_EQ(proj.conv2().options().stride, 1);
  EXPECT_EQ(proj.downsample_conv()->options().stride, 1);
  EXPECT_EQ(proj.conv2().options().padding, 4);
  EXPECT_EQ(proj.forward(Tensor::randn({2, 5, 5, 4}, gen)).shape(), (Shape{2, 5, 5, 8}));
  Bottleneck identity(BottleneckOptions(8, 2), gen);
  EXPECT_THROW(identity.set_stride(2), Error);
  EXPECT_THROW(identity.forward(Tensor::randn({1, 3, 3, 4}, gen)), Error);
  BottleneckOptions bad(4, 2);
  bad.downsample = false;
  EXPECT_THROW(Bottleneck(bad, gen), Error);
  EXPECT_THROW(Bottleneck(BottleneckOptions(4, 0), gen), Error);
  // He init, fan_out: std sqrt(2 / (Cout*KH*KW)).
  Bottleneck wide(BottleneckOptions(64, 64), gen);
  double sq = 0;
  const auto w = wide.conv2().weight().to_double_vector();
  for (double v : w) sq += v * v;
  EXPECT_NEAR(std::sqrt(sq / w.size()), std::sqrt(2.0 / (64 * 9)), 0.005);
}

// ---- torchvision definition: counts and names ----

TEST(DeepLabV3Torchvision, ParameterCountsAndStateDictNamesMatchTorchvision) {
  DeepLabV3& model = torchvision_r50();
  EXPECT_EQ(model.backbone().parameter_count(), kTorchvisionResNet50Params);
  EXPECT_EQ(model.parameter_count(), kTorchvisionDeepLabV3R50Params);
  const auto state = model.state_dict();
  EXPECT_EQ(state.size(), kTorchvisionDeepLabV3R50Tensors);
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"backbone.conv1.weight", {64, 7, 7, 3}},
      {"backbone.bn1.running_var", {64}},
      {"backbone.layer1.0.conv1.weight", {64, 1, 1, 64}},
      {"backbone.layer1.0.downsample.0.weight", {256, 1, 1, 64}},
      {"backbone.layer1.0.downsample.1.running_mean", {256}},
      {"backbone.layer3.5.conv2.weight", {256, 3, 3, 256}},
      {"backbone.layer4.0.downsample.0.weight", {2048, 1, 1, 1024}},
      {"backbone.layer4.2.bn3.bias", {2048}},
      {"classifier.0.convs.0.0.weight", {256, 1, 1, 2048}},
      {"classifier.0.convs.0.1.running_var", {256}},
      {"classifier.0.convs.3.0.weight", {256, 3, 3, 2048}},
      {"classifier.0.convs.4.1.weight", {256, 1, 1, 2048}},
      {"classifier.0.convs.4.2.weight", {256}},
      {"classifier.0.convs.4.2.running_mean", {256}},
      {"classifier.0.project.0.weight", {256, 1, 1, 1280}},
      {"classifier.0.project.1.bias", {256}},
      {"classifier.1.weight", {256, 3, 3, 256}},
      {"classifier.2.running_var", {256}},
      {"classifier.4.weight", {21, 1, 1, 256}},
      {"classifier.4.bias", {21}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(state.count(name)) << name;
    EXPECT_EQ(state.at(name).shape(), shape) << name;
  }
  for (const char* absent : {"backbone.fc.weight", "classifier.0.convs.4.0.weight", "classifier.3.weight",
                             "backbone.layer1.1.downsample.0.weight", "classifier.1.bias"})
    EXPECT_FALSE(state.count(absent)) << absent;
  // Definition: OS8 via replace_stride_with_dilation [F,T,T], rates 12/24/36, align_corners=false.
  EXPECT_EQ(model.output_stride(), 8);
  EXPECT_FALSE(model.definition().align_corners);
  EXPECT_EQ(model.aspp()->rates(), (std::vector<int>{12, 24, 36}));
  EXPECT_EQ(model.backbone().block(3, 0).stride(), 1);
  EXPECT_EQ(model.backbone().block(3, 0).downsample_conv()->options().stride, 1);
  EXPECT_EQ(model.backbone().block(2, 0).stride(), 2);
  EXPECT_EQ(model.backbone().block_dilations()[3], (std::vector<int>{2, 4, 4}));
  const std::string d = model.describe();
  for (const char* part :
       {"torchvision", "output stride 8", "12,24,36", "align_corners=false", "dropout 0.5", "mean (0.485"})
    EXPECT_NE(d.find(part), std::string::npos) << part << " in " << d;
  // Backbone convs He-initialised (fan_out); torchvision leaves the head at PyTorch's default init.
  EXPECT_EQ(model.state_dict().at("classifier.2.weight").to_double_vector(), std::vector<double>(256, 1.0));
}

TEST(DeepLabV3Torchvision, ForwardAtOutputStride8) {
  DeepLabV3& model = torchvision_r50();
  model.eval();
  Generator gen(9);
  const Tensor y = model.forward(Tensor::randn({1, 65, 65, 3}, gen));
  EXPECT_EQ(y.shape(), (Shape{1, 9, 9, 21}));
  EXPECT_TRUE(all_finite(y));
}

TEST(DeepLabV3Torchvision, ResNet101CountsMatchTorchvision) {
  auto model = create<DeepLabV3>("deeplabv3_resnet101", options(21));
  EXPECT_EQ(model->backbone().parameter_count(), kTorchvisionResNet101Params);
  EXPECT_EQ(model->parameter_count(), kTorchvisionDeepLabV3R101Params);
  EXPECT_EQ(model->state_dict().size(), kTorchvisionDeepLabV3R101Tensors);
  EXPECT_TRUE(model->state_dict().count("backbone.layer3.22.bn3.running_var"));
}

// ---- the paper's DeepLabv3: output stride switching ----

TEST(DeepLabV3Paper, OutputStrideSwitchKeepsWeightsAndScalesEveryRate) {
  auto model = create<DeepLabV3>("resnet50-deeplabv3", options(5, 0, 7));
  model->eval();
  Generator gen(10);
  const Tensor x = Tensor::randn({1, 65, 65, 3}, gen);
  EXPECT_EQ(model->output_stride(), 16);
  EXPECT_EQ(model->aspp()->rates(), (std::vector<int>{6, 12, 18}));
  EXPECT_EQ(model->backbone().block_dilations()[3], (std::vector<int>{2, 4, 8}));
  const Tensor y16 = model->forward(x);
  EXPECT_EQ(y16.shape(), (Shape{1, 5, 5, 5}));  // ceil(65/16)

  model->set_output_stride(8);
  EXPECT_EQ(model->output_stride(), 8);
  EXPECT_EQ(model->aspp()->rates(), (std::vector<int>{12, 24, 36}));
  for (int i = 0; i < 3; ++i) {
    const Conv2dOptions& o = model->aspp()->atrous_conv(i).options();
    EXPECT_EQ(o.dilation, 12 * (i + 1));
    EXPECT_EQ(o.padding, 12 * (i + 1));
  }
  EXPECT_EQ(model->backbone().block_dilations()[3], (std::vector<int>{4, 8, 16}));
  EXPECT_EQ(model->backbone().block_dilations()[2], std::vector<int>(6, 2));  // TF: every unit at the rate
  EXPECT_EQ(model->backbone().bottleneck(3, 0).conv2().options().stride, 1);
  EXPECT_EQ(model->backbone().block(3, 0).downsample_conv()->options().stride, 1);
  EXPECT_EQ(model->backbone().bottleneck(4, 2).conv2().options().padding, 16);
  EXPECT_NE(model->describe().find("output stride 8"), std::string::npos) << model->describe();
  const Tensor y8 = model->forward(x);
  EXPECT_EQ(y8.shape(), (Shape{1, 9, 9, 5}));

  // Built at output stride 8 directly (same seed): the same weights and the same output.
  auto direct8 = create<DeepLabV3>("resnet50-deeplabv3", options(5, 8, 7));
  direct8->eval();
  EXPECT_EQ(direct8->aspp()->rates(), (std::vector<int>{12, 24, 36}));
  EXPECT_EQ(direct8->forward(x).to_double_vector(), y8.to_double_vector());

  model->set_output_stride(32);
  EXPECT_EQ(model->aspp()->rates(), (std::vector<int>{3, 6, 9}));
  EXPECT_EQ(model->backbone().block(4, 0).stride(), 2);
  EXPECT_EQ(model->backbone().block_dilations()[3], (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(model->forward(x).shape(), (Shape{1, 3, 3, 5}));  // ceil(65/32)

  // Back at 16: identical to never having switched; the model built at 8 switched to 16 agrees too.
  model->set_output_stride(16);
  EXPECT_EQ(model->forward(x).to_double_vector(), y16.to_double_vector());
  direct8->set_output_stride(16);
  EXPECT_EQ(direct8->forward(x).to_double_vector(), y16.to_double_vector());

  EXPECT_THROW(model->set_output_stride(4), Error);
  EXPECT_THROW(model->set_output_stride(24), Error);
  EXPECT_EQ(model->output_stride(), 16);
  EXPECT_THROW(model->forward(Tensor::randn({1, 33, 33, 4}, gen)), Error);
}

TEST(DeepLabV3Paper, DefinitionAndParameterCount) {
  // Paper head: the torchvision ASPP without the extra 3x3 conv + BN, then a 1x1 classifier.
  const DeepLabV3Config c = deeplabv3_paper_config(50, 21);
  EXPECT_EQ(c.backbone.multi_grid, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(c.backbone.output_stride, 16);
  EXPECT_DOUBLE_EQ(c.backbone.bn.momentum, 0.0003);
  EXPECT_TRUE(c.align_corners);
  EXPECT_EQ(kTorchvisionDeepLabV3R50Params - (256 * 9 * 256 + 2 * 256), int64_t{39048533});
  EXPECT_THROW(deeplabv3_paper_config(34, 21), Error);
  EXPECT_THROW(deeplabv3_torchvision_config(152, 21), Error);
}

// ---- training ----

TEST(DeepLabV3Paper, TrainingStepHasFiniteLossAndGradientsEverywhere) {
  auto model = create<DeepLabV3>("resnet50-deeplabv3", options(3, 0, 2));
  EXPECT_EQ(model->parameter_count(), int64_t{39048533} - 18 * 256 - 18);  // 3 classes instead of 21
  model->train();
  Generator gen(12);
  const Tensor x = Tensor::randn({2, 33, 33, 3}, gen);
  const Tensor before = model->state_dict().at("backbone.layer4.2.bn2.running_mean").clone();
  const Tensor logits = model->forward(x);
  ASSERT_EQ(logits.shape(), (Shape{2, 3, 3, 3}));
  const Tensor up = resize_bilinear(logits, ResizeParams::to_size(33, 33, model->definition().align_corners));
  const Tensor loss = softmax_cross_entropy(up, labels_for(up, 3, gen));
  ASSERT_TRUE(std::isfinite(loss.item_as_double()));
  EXPECT_GT(loss.item_as_double(), 0);
  loss.backward();
  int with_signal = 0, total = 0;
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.tensor.requires_grad()) << p.name;
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
    ASSERT_TRUE(all_finite(p.tensor.grad())) << p.name;
    double norm = 0;
    for (double g : p.tensor.grad().to_double_vector()) norm += g * g;
    with_signal += norm > 0;
    ++total;
  }
  EXPECT_EQ(with_signal, total);
  // BN in training mode moved its running statistics (by momentum 0.0003).
  EXPECT_NE(model->state_dict().at("backbone.layer4.2.bn2.running_mean").to_double_vector(), before.to_double_vector());
  // Freezing BN model-wide takes BN parameters out of training.
  model->set_frozen_bn(true);
  size_t trainable = 0;
  for (const auto& g : model->param_groups()) trainable += g.params.size();
  size_t convs = 0;
  for (const auto& p : model->named_parameters()) convs += p.tensor.dim() == 4 || p.name == "classifier.1.bias";
  EXPECT_EQ(trainable, convs);
}

TEST(DeepLabV2ResNet, FrozenBatchNormGetsNoGradientAndKeepsStatistics) {
  auto model = create<DeepLabV2ResNet>("deeplabv2-resnet50", options(3));
  EXPECT_EQ(model->output_stride(), 8);
  EXPECT_TRUE(model->definition().align_corners);
  EXPECT_EQ(model->parameter_count(), kTorchvisionResNet50Params + 4 * (9 * 2048 * 3 + 3));
  EXPECT_EQ(model->aspp().rates(), (std::vector<int>{6, 12, 18, 24}));
  EXPECT_EQ(model->backbone().block_dilations()[2], std::vector<int>(6, 2));  // Caffe: res4a at rate 2 too
  EXPECT_EQ(model->backbone().block_dilations()[3], std::vector<int>(3, 4));
  EXPECT_EQ(model->backbone().block(3, 0).downsample_conv()->options().stride, 1);
  const auto state = model->state_dict();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(state.at("aspp.branches." + std::to_string(i) + ".weight").shape(), (Shape{3, 3, 3, 2048}));
    EXPECT_EQ(state.at("aspp.branches." + std::to_string(i) + ".bias").shape(), (Shape{3}));
  }
  EXPECT_NE(model->describe().find("frozen BN"), std::string::npos);
  model->train();
  Generator gen(13);
  const Tensor x = Tensor::randn({2, 33, 33, 3}, gen);
  const Tensor stats = model->state_dict().at("backbone.layer2.0.bn1.running_var").clone();
  const Tensor logits = model->forward(x);
  ASSERT_EQ(logits.shape(), (Shape{2, 5, 5, 3}));
  const Tensor loss = softmax_cross_entropy(logits, labels_for(logits, 3, gen));
  ASSERT_TRUE(std::isfinite(loss.item_as_double()));
  loss.backward();
  for (const auto& p : model->named_parameters()) {
    const bool is_bn = p.tensor.dim() == 1 && p.name.rfind("aspp.", 0) != 0;
    if (is_bn) {
      EXPECT_FALSE(p.tensor.requires_grad()) << p.name;
      EXPECT_FALSE(p.tensor.grad().defined()) << p.name;
    } else {
      ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
      ASSERT_TRUE(all_finite(p.tensor.grad())) << p.name;
    }
  }
  EXPECT_EQ(model->state_dict().at("backbone.layer2.0.bn1.running_var").to_double_vector(), stats.to_double_vector());
  // Caffe multipliers on the head: weights 10x, biases 20x without decay.
  EXPECT_EQ(model->param_options("aspp.branches.2.weight").lr_mult, 10.0);
  EXPECT_EQ(model->param_options("aspp.branches.2.bias").lr_mult, 20.0);
  EXPECT_THROW(model->set_output_stride(16), Error);
}

// ---- cascaded model and registry ----

TEST(DeepLabV3Cascade, SevenLayersWithDoubledRates) {
  auto model = create<DeepLabV3>("resnet101-deeplabv3-cascade", options(4));
  ResNet& backbone = model->backbone();
  ASSERT_EQ(backbone.num_layers(), 7);
  EXPECT_EQ(model->aspp(), nullptr);
  const auto rates = backbone.block_dilations();
  EXPECT_EQ(rates[3], (std::vector<int>{2, 4, 2}));
  EXPECT_EQ(rates[4], (std::vector<int>{4, 8, 4}));
  EXPECT_EQ(rates[5], (std::vector<int>{8, 16, 8}));
  EXPECT_EQ(rates[6], (std::vector<int>{16, 32, 16}));
  const auto state = model->state_dict();
  EXPECT_TRUE(state.count("backbone.layer7.2.conv3.weight"));
  EXPECT_FALSE(state.count("backbone.layer5.0.downsample.0.weight"));  // 2048 -> 2048, never strided
  EXPECT_EQ(state.at("classifier.0.weight").shape(), (Shape{4, 1, 1, 2048}));
  // Each copy: three 2048-512-2048 bottlenecks without projection.
  const int64_t copy = 3 * (2048 * 512 + 9 * 512 * 512 + 512 * 2048 + 2 * (512 + 512 + 2048));
  EXPECT_EQ(model->parameter_count(), kTorchvisionResNet101Params + 3 * copy + 2048 * 4 + 4);
  model->eval();
  Generator gen(14);
  EXPECT_EQ(model->forward(Tensor::randn({1, 33, 33, 3}, gen)).shape(), (Shape{1, 3, 3, 4}));
  model->set_output_stride(8);
  EXPECT_EQ(backbone.block_dilations()[6], (std::vector<int>{32, 64, 32}));
  EXPECT_NE(model->describe().find("cascaded"), std::string::npos);
}

TEST(ResNetRegistry, EveryDefinitionIsRegisteredAndChecked) {
  for (const char* name : {"resnet50-deeplabv3", "resnet101-deeplabv3", "resnet101-deeplabv3-cascade",
                           "deeplabv2-resnet101", "deeplabv2-resnet50", "deeplabv3_resnet50", "deeplabv3_resnet101"})
    EXPECT_TRUE(model_registry().contains(name)) << name;
  EXPECT_THROW(create_model("resnet50-deeplabv3", options(5, 4)), Error);
  EXPECT_THROW(create_model("deeplabv2-resnet101", options(5, 16)), Error);
  EXPECT_THROW(create_model("resnet50-deeplabv3", options(0)), Error);
}

// The v2 paper's headline model: ResNet-101 ASPP-L wrapped in multi-scale inputs, the single-scale model's
// parameters under the same names (so its weights load unchanged), a loss-bearing output per scale plus the fusion.
TEST(ResNetRegistry, DeepLabV2ResNet101WithMsc) {
  auto msc = create_model("deeplabv2-resnet101-msc", options(3));
  auto single = create_model("deeplabv2-resnet101", options(3));
  ASSERT_NE(dynamic_cast<MultiScale*>(msc.get()), nullptr);
  EXPECT_EQ(msc->definition().name, "deeplabv2-resnet101-msc");
  EXPECT_EQ(msc->parameter_count(), single->parameter_count());
  std::vector<std::string> a, b;
  for (const NamedTensor& p : msc->named_parameters()) a.push_back(p.name);
  for (const NamedTensor& p : single->named_parameters()) b.push_back(p.name);
  EXPECT_EQ(a, b);
  msc->eval();
  Generator gen(15);
  const std::vector<Tensor> outputs = msc->forward_all_scales(Tensor::randn({1, 41, 41, 3}, gen));
  ASSERT_EQ(outputs.size(), 4u);  // scales 1, 0.75, 0.5 and the max fusion
  EXPECT_EQ(outputs.back().shape(), outputs.front().shape());
  EXPECT_THROW(create_model("deeplabv2-resnet101-msc", options(5, 16)), Error);
}

// torchvision's FCN: the OS8 ResNet with FCNHead, parameters as torchvision counts them (0.14: fcn_resnet50 with 21
// classes and no auxiliary head has 32,957,013); logits at stride 8. Numerical parity: test_pytorch_parity.cpp.
TEST(ResNetRegistry, TorchvisionFcn) {
  EXPECT_TRUE(model_registry().contains("fcn_resnet101"));
  auto fcn = create_model("fcn_resnet50", options(21));
  EXPECT_EQ(fcn->parameter_count(), 32957013);
  EXPECT_EQ(fcn->output_stride(), 8);
  EXPECT_FALSE(fcn->definition().align_corners);
  EXPECT_NE(fcn->describe().find("FCN head"), std::string::npos) << fcn->describe();
  fcn->eval();
  Generator gen(16);
  EXPECT_EQ(fcn->forward(Tensor::randn({1, 49, 43, 3}, gen)).shape(), (Shape{1, 7, 6, 21}));
}
