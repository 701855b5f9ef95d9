// Atrous ResNet backbone: torchvision's ResNet-50/101 (stride on the 3x3 conv) with strides turned into rates for
// output stride 8/16/32, Multi-Grid and cascaded layer4 copies as in DeepLabv3 Sec. 3.2.
#include "models/resnet.h"

#include <algorithm>

#include "core/ops/elementwise.h"
#include "core/ops/pooling.h"
#include "layers/conv_bn_relu.h"

namespace atrous {
namespace {

constexpr int kPlanes[] = {64, 128, 256, 512};

void check_config(const ResNetConfig& c) {
  ATROUS_CHECK(c.blocks.size() == 4, "ResNet: need block counts for layer1..layer4, got ", c.blocks.size());
  for (int b : c.blocks) ATROUS_CHECK(b >= 1, "ResNet: every layer needs at least one block, got ", b);
  ATROUS_CHECK(c.cascaded_layers >= 0, "ResNet: cascaded_layers must be >= 0, got ", c.cascaded_layers);
  ATROUS_CHECK(c.multi_grid.empty() || c.multi_grid.size() == static_cast<size_t>(c.blocks[3]),
               "ResNet: multi_grid needs one unit rate per layer4 block (", c.blocks[3], "), got ",
               c.multi_grid.size());
  for (int r : c.multi_grid) ATROUS_CHECK(r >= 1, "ResNet: multi-grid unit rates must be >= 1, got ", r);
}

std::string join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

bool all_equal(std::vector<int>::const_iterator first, std::vector<int>::const_iterator last, int value) {
  return std::all_of(first, last, [value](int x) { return x == value; });
}

}  // namespace

ResNetDilationPlan resnet_dilation_plan(const ResNetConfig& config, int output_stride) {
  check_config(config);
  ATROUS_CHECK(output_stride == 8 || output_stride == 16 || output_stride == 32,
               "ResNet: output stride must be 8, 16 or 32, got ", output_stride);
  const int num_layers = 4 + config.cascaded_layers;
  ResNetDilationPlan plan;
  int current_stride = 4;  // after the 7x7/2 conv and the 3x3/2 max pool
  int rate = 1;
  for (int l = 0; l < num_layers; ++l) {
    const int nominal_stride = l == 0 ? 1 : 2;  // cascaded copies of layer4 would stride too (Fig. 3a)
    const int previous_rate = rate;
    int stride = nominal_stride;
    if (current_stride * nominal_stride > output_stride) {
      rate *= nominal_stride;
      stride = 1;
    } else {
      current_stride *= nominal_stride;
    }
    plan.layer_stride.push_back(stride);
    plan.layer_rate.push_back(rate);
    const int blocks = config.blocks[std::min(l, 3)];
    std::vector<int> dilation(blocks, rate);
    if (l >= 3 && !config.multi_grid.empty()) {
      // DeepLabv3 Sec. 3.2.1: final rate = layer rate x unit rate, for every block of layer4 and the copies.
      for (int b = 0; b < blocks; ++b) dilation[b] = rate * config.multi_grid[b];
    } else if (config.dilation_rule == DilationRule::Torchvision) {
      // torchvision's _make_layer: the block that gave up its stride still sees the previous resolution's rate.
      dilation[0] = previous_rate;
    }
    plan.block_dilation.push_back(dilation);
  }
  return plan;
}

std::string resnet_rates_summary(const ResNetConfig& config, int output_stride) {
  const ResNetDilationPlan plan = resnet_dilation_plan(config, output_stride);
  std::string s;
  for (size_t l = 0; l < plan.block_dilation.size(); ++l) {
    const std::vector<int>& d = plan.block_dilation[l];
    const int rate = plan.layer_rate[l];
    if (rate == 1 && all_equal(d.begin(), d.end(), 1)) continue;
    std::string part = "layer" + std::to_string(l + 1);
    if (all_equal(d.begin(), d.end(), d[0])) {
      part += " rate " + std::to_string(d[0]);
    } else if (all_equal(d.begin() + 1, d.end(), rate)) {
      part += " rate " + std::to_string(rate) + " (first block " + std::to_string(d[0]) + ")";
    } else {
      part += " rates " + join(d);
    }
    s += (s.empty() ? "" : ", ") + part;
  }
  return s.empty() ? "no atrous layers" : s;
}

int resnet_depth(const ResNetConfig& config) {
  int depth = 2;
  for (int b : config.blocks) depth += (config.block == ResNetBlock::Basic ? 2 : 3) * b;
  return depth;
}

void for_each_batch_norm(Module& root, const std::function<void(BatchNorm2d&)>& fn) {
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&root)) fn(*bn);
  for (const auto& child : root.children()) for_each_batch_norm(*child.second, fn);
}

ResNet::ResNet(const ResNetConfig& config, Generator& gen)
    : Backbone("ResNet"), config_(config), output_stride_(config.output_stride) {
  const ResNetDilationPlan plan = resnet_dilation_plan(config, config.output_stride);
  conv1_ = register_module(
      "conv1", std::make_shared<Conv2d>(
                   Conv2dOptions(3, kStemChannels, 7).with_stride(2).with_padding(3).with_bias(false), gen));
  kaiming_normal_fan_out_(conv1_->weight(), gen);
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(config.bn.options(kStemChannels)));
  int in_channels = kStemChannels;
  for (size_t l = 0; l < plan.block_dilation.size(); ++l) {
    auto layer = register_module("layer" + std::to_string(l + 1), std::make_shared<Sequential>());
    const int planes = kPlanes[std::min<size_t>(l, 3)];
    std::vector<std::shared_ptr<ResidualBlock>> blocks;
    for (size_t b = 0; b < plan.block_dilation[l].size(); ++b) {
      const int stride = b == 0 ? plan.layer_stride[l] : 1, dilation = plan.block_dilation[l][b];
      // Every layer's first block widens the channels (so has a projection) but layer1's of a basic-block network
      // and the cascaded copies, which never stride at output stride <= 32: the parameters are the same at every
      // output stride.
      if (config.block == ResNetBlock::Basic) {
        BasicBlockOptions options(in_channels, planes, stride, dilation);
        options.bn = config.bn;
        blocks.push_back(layer->add(std::make_shared<BasicBlock>(options, gen)));
      } else {
        BottleneckOptions options(in_channels, planes, stride, dilation);
        options.bn = config.bn;
        blocks.push_back(layer->add(std::make_shared<Bottleneck>(options, gen)));
      }
      in_channels = planes * expansion();
    }
    layers_.push_back(layer);
    blocks_.push_back(blocks);
  }
}

Tensor ResNet::forward(const Tensor& x) { return forward_features(x).out; }

BackboneFeatures ResNet::forward_features(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == 3, "ResNet: input must be [N,H,W,3], got ", x.description());
  const Pool2dParams pool = Pool2dParams().with_kernel(3).with_stride(2).with_padding(1);
  Tensor h = max_pool2d(conv_bn_relu(*conv1_, bn1_.get(), x, true), pool);
  BackboneFeatures features;
  for (size_t l = 0; l < layers_.size(); ++l) {
    h = layers_[l]->forward(h);
    if (l == 0) features.low_level = h;
  }
  features.out = h;
  return features;
}

void ResNet::apply_plan(const ResNetDilationPlan& plan) {
  for (size_t l = 0; l < blocks_.size(); ++l) {
    for (size_t b = 0; b < blocks_[l].size(); ++b) {
      blocks_[l][b]->set_stride(b == 0 ? plan.layer_stride[l] : 1);
      blocks_[l][b]->set_dilation(plan.block_dilation[l][b]);
    }
  }
}

void ResNet::set_output_stride(int output_stride) {
  apply_plan(resnet_dilation_plan(config_, output_stride));
  output_stride_ = output_stride;
  config_.output_stride = output_stride;
}

Bottleneck& ResNet::bottleneck(int layer, int index) {
  auto* b = dynamic_cast<Bottleneck*>(&block(layer, index));
  ATROUS_CHECK(b != nullptr, "ResNet::bottleneck: ResNet-", resnet_depth(config_), " is made of basic blocks");
  return *b;
}

ResidualBlock& ResNet::block(int layer, int index) {
  ATROUS_CHECK(layer >= 1 && layer <= num_layers(), "ResNet::block: layer ", layer, " out of 1..", num_layers());
  ATROUS_CHECK(index >= 0 && index < static_cast<int>(blocks_[layer - 1].size()), "ResNet::block: block ", index,
               " out of layer", layer, "'s ", blocks_[layer - 1].size());
  return *blocks_[layer - 1][index];
}

Sequential& ResNet::layer(int layer) {
  ATROUS_CHECK(layer >= 1 && layer <= num_layers(), "ResNet::layer: layer ", layer, " out of 1..", num_layers());
  return *layers_[layer - 1];
}

std::vector<std::vector<int>> ResNet::block_dilations() const {
  std::vector<std::vector<int>> out;
  for (const auto& layer : blocks_) {
    std::vector<int> rates;
    for (const auto& b : layer) rates.push_back(b->dilation());
    out.push_back(rates);
  }
  return out;
}

void ResNet::set_frozen_bn(bool frozen) {
  config_.bn.frozen = frozen;
  for_each_batch_norm(*this, [frozen](BatchNorm2d& bn) { bn.set_frozen(frozen); });
}

std::string ResNet::describe() const {
  std::string s = "ResNet-" + std::to_string(resnet_depth(config_)) + " (torchvision layout), output stride " +
                  std::to_string(output_stride_);
  s += " (" + resnet_rates_summary(config_, output_stride_) + ")";
  if (!config_.multi_grid.empty()) s += ", multi-grid (" + join(config_.multi_grid) + ")";
  if (config_.cascaded_layers > 0) s += ", +" + std::to_string(config_.cascaded_layers) + " cascaded layer4 copies";
  if (config_.bn.frozen) s += ", frozen BN";
  return s;
}

}  // namespace atrous
