#include "models/vgg_deeplab.h"

#include <sstream>

#include "core/ops/concat.h"
#include "core/ops/elementwise.h"
#include "core/ops/resize.h"
#include "layers/conv_bn_relu.h"
#include "layers/sequential.h"
#include "layers/simple_layers.h"
#include "models/multi_scale.h"

namespace atrous {
namespace {

constexpr int kMscWidth = 128;  // each MSc MLP layer: 128 filters (v1 paper)
constexpr int kMscTaps = 5;     // the input and pool1..pool4
// The first MLP conv subsamples by these strides so every tap reaches the stride-8 grid (input 1, pool1 2,
// pool2 4, pool3 and pool4 already 8): 321 -> 41 from 321, 161, 81, 41, 41.
constexpr int kMscStrides[kMscTaps] = {8, 4, 2, 1, 1};
constexpr int kMscChannels[kMscTaps] = {3, 64, 128, 256, 512};
const char* const kMscNames[kMscTaps] = {"ms_input", "ms_pool1", "ms_pool2", "ms_pool3", "ms_pool4"};

std::string rates_str(const std::vector<int>& rates) {
  std::string s;
  for (int r : rates) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s;
}

const VggDeepLabConfig& checked(const VggDeepLabConfig& c) {
  ATROUS_CHECK(c.num_classes >= 1 && c.fc6_kernel >= 1 && c.fc_channels >= 1 && !c.fc6_rates.empty() &&
                   c.dropout >= 0 && c.dropout < 1,
               "VggDeepLab(", c.name, "): invalid configuration (classes ", c.num_classes, ", fc6 kernel ",
               c.fc6_kernel, ", fc width ", c.fc_channels, ", ", c.fc6_rates.size(), " rates, dropout ", c.dropout,
               ")");
  for (int r : c.fc6_rates)
    ATROUS_CHECK(r >= 1 && r * (c.fc6_kernel - 1) % 2 == 0, "VggDeepLab(", c.name, "): fc6 ", c.fc6_kernel, "x",
                 c.fc6_kernel, " at rate ", r, " has no padding that keeps the feature size (needs rate*(k-1) even)");
  ATROUS_CHECK(!c.msc_features || c.fc6_rates.size() == 1, "VggDeepLab(", c.name,
               "): MSc features are defined for a single fc6-fc7-fc8 head, not for ASPP");
  return c;
}

std::shared_ptr<Sequential> msc_mlp(int in_channels, int stride, Generator& gen) {
  auto mlp = std::make_shared<Sequential>();
  auto conv1 = mlp->add(
      "conv1",
      std::make_shared<Conv2d>(Conv2dOptions(in_channels, kMscWidth, 3).with_stride(stride).with_padding(1), gen));
  mlp->add("relu1", std::make_shared<ReLU>());
  auto conv2 = mlp->add("conv2", std::make_shared<Conv2d>(Conv2dOptions(kMscWidth, kMscWidth, 1), gen));
  mlp->add("relu2", std::make_shared<ReLU>());
  he_init_(*conv1, gen);
  he_init_(*conv2, gen);
  return mlp;
}

// A Module holding the ASPP branches as children "0".."n-1"; the model sums their scores itself.
class BranchList : public Module {
 public:
  BranchList() : Module("VggAspp") {}
  void append(const std::shared_ptr<VggFcBranch>& branch) {
    register_module(std::to_string(children().size()), branch);
  }
  Tensor forward(const Tensor& x) override {
    Tensor sum;
    for (const auto& [name, branch] : children()) {
      Tensor scores = branch->forward(x);
      sum = sum.defined() ? add(sum, scores) : scores;
    }
    return sum;
  }
  std::string describe() const override { return "ASPP (VGG-16): parallel fc6-fc7-fc8 branches, scores summed"; }
};

}  // namespace

VggFcBranch::VggFcBranch(const VggFcBranchOptions& o, Generator& gen) : Module("VggFcBranch"), options_(o) {
  fc6_ = register_module("fc6", std::make_shared<Conv2d>(Conv2dOptions(o.in_channels, o.channels, o.kernel)
                                                             .with_dilation(o.rate)
                                                             .with_padding(o.rate * (o.kernel - 1) / 2),
                                                         gen));
  register_module("relu6", std::make_shared<ReLU>());
  drop6_ = register_module("drop6", std::make_shared<Dropout>(o.dropout));
  fc7_ = register_module("fc7", std::make_shared<Conv2d>(Conv2dOptions(o.channels, o.channels, 1), gen));
  register_module("relu7", std::make_shared<ReLU>());
  drop7_ = register_module("drop7", std::make_shared<Dropout>(o.dropout));
  fc8_ = register_module(
      "fc8", std::make_shared<Conv2d>(
                 Conv2dOptions(o.channels + o.classifier_extra_channels, o.num_classes, 1).with_lr_mult(10, 20), gen));
  he_init_(*fc6_, gen);
  he_init_(*fc7_, gen);
  normal_init_(fc8_->weight(), 0.01, gen);
  fc8_->bias().detach().zero_();
}

Tensor VggFcBranch::fc7_features(const Tensor& x) {
  Tensor h = drop6_->forward(conv_bn_relu(*fc6_, nullptr, x, true));
  return drop7_->forward(conv_bn_relu(*fc7_, nullptr, h, true));
}

Tensor VggFcBranch::classify(const Tensor& features) { return fc8_->forward(features); }

std::string VggFcBranch::describe() const {
  const VggFcBranchOptions& o = options_;
  return "fc6 " + std::to_string(o.kernel) + "x" + std::to_string(o.kernel) + " rate " + std::to_string(o.rate) + " (" +
         std::to_string(o.channels) + ") - fc7 1x1 - fc8 1x1";
}

VggDeepLabConfig vgg_deeplab_config(const std::string& name, int num_classes) {
  VggDeepLabConfig c;
  c.name = name;
  c.num_classes = num_classes;
  const std::string tail = "; VGG-16 pools 3x3 s2,s2,s2,s1,s1, conv5 rate 2, output stride 8";
  auto v1 = [&](int kernel, int rate, int channels, bool avg, const std::string& what) {
    c.fc6_kernel = kernel;
    c.fc6_rates = {rate};
    c.fc_channels = channels;
    c.pool5_avg_pool = avg;
    std::ostringstream d;
    d << what << ": fc6 " << kernel << "x" << kernel << " rate " << rate << " pad " << rate * (kernel - 1) / 2 << " ("
      << channels << "), fc7 1x1 (" << channels << "), fc8 1x1" << (avg ? "; 3x3 avg pool after pool5" : "") << tail;
    c.description = d.str();
  };
  if (name == "deeplab-v1-largefov") {
    v1(3, 12, 1024, true, "DeepLab-v1 VGG-16 LargeFOV");
  } else if (name == "deeplab-v1-7x7r4") {
    v1(7, 4, 4096, false, "DeepLab-v1 VGG-16 DeepLab-7x7");
  } else if (name == "deeplab-v1-4x4r4") {
    v1(4, 4, 4096, false, "DeepLab-v1 VGG-16 DeepLab (4x4, input stride 4)");
  } else if (name == "deeplab-v1-4x4r8") {
    v1(4, 8, 4096, false, "DeepLab-v1 VGG-16 DeepLab-4x4 (input stride 8)");
  } else if (name == "deeplab-v1-msc-largefov") {
    v1(3, 12, 1024, true, "DeepLab-v1 VGG-16 MSc-LargeFOV");
    c.msc_features = true;
    c.description +=
        "; MSc: 3x3(128)-1x1(128) MLPs on input/pool1..pool4 (first conv stride 8,4,2,1,1), +640 "
        "channels concatenated before fc8";
  } else if (name == "deeplab-v2-vgg16-aspp-s" || name == "deeplab-v2-vgg16-aspp-l") {
    const bool small = name == "deeplab-v2-vgg16-aspp-s";
    c.fc6_kernel = 3;
    c.fc6_rates = small ? std::vector<int>{2, 4, 8, 12} : std::vector<int>{6, 12, 18, 24};
    c.fc_channels = 1024;
    c.pool5_avg_pool = false;
    c.description = std::string("DeepLab-v2 VGG-16 ") + (small ? "ASPP-S" : "ASPP-L") + ": 4 branches fc6 3x3 rates {" +
                    rates_str(c.fc6_rates) + "} (1024) - fc7 1x1 (1024) - fc8 1x1, scores summed; no pool5 avg pool" +
                    tail;
  } else {
    ATROUS_FAIL(
        "vgg_deeplab_config: unknown VGG-16 DeepLab variant '", name,
        "' (deeplab-v1-largefov, deeplab-v1-7x7r4, deeplab-v1-4x4r4, deeplab-v1-4x4r8, deeplab-v1-msc-largefov, "
        "deeplab-v2-vgg16-aspp-s, deeplab-v2-vgg16-aspp-l)");
  }
  return c;
}

namespace {
ModelDefinition vgg_definition(const VggDeepLabConfig& c) {
  ModelDefinition d;
  d.name = c.name;
  d.description = c.description.empty() ? "VGG-16 DeepLab, fc6 " + std::to_string(c.fc6_kernel) + "x" +
                                              std::to_string(c.fc6_kernel) + " rates {" + rates_str(c.fc6_rates) + "}"
                                        : c.description;
  d.num_classes = c.num_classes;
  d.output_stride = 8;
  d.align_corners = true;
  d.preprocessing = caffe_bgr_preprocessing();
  return d;
}
}  // namespace

VggDeepLab::VggDeepLab(const VggDeepLabConfig& config, Generator& gen)
    : SegmentationModel("VggDeepLab", vgg_definition(checked(config))), config_(config) {
  features_ = register_module("features", std::make_shared<Vgg16Features>(gen));
  if (config.pool5_avg_pool)
    pool5_avg_ = register_module(
        "pool5a", std::make_shared<AvgPool2d>(Pool2dParams().with_kernel(3).with_stride(1).with_padding(1)));
  VggFcBranchOptions branch;
  branch.kernel = config.fc6_kernel;
  branch.channels = config.fc_channels;
  branch.num_classes = config.num_classes;
  branch.dropout = config.dropout;
  if (config.fc6_rates.size() == 1) {
    VggFcBranchOptions head = branch;
    head.rate = config.fc6_rates[0];
    head.classifier_extra_channels = config.msc_features ? kMscTaps * kMscWidth : 0;
    head_ = std::make_shared<VggFcBranch>(head, gen);
    // Registered layer by layer so the names are fc6.*, fc7.*, fc8.* as in the Caffe models; head_ (with no
    // parameters of its own) only sequences them.
    for (const auto& [name, layer] : head_->children()) register_module(name, layer);
  } else {
    auto list = register_module("aspp", std::make_shared<BranchList>());
    for (int rate : config.fc6_rates) {
      VggFcBranchOptions options = branch;
      options.rate = rate;
      list->append(std::make_shared<VggFcBranch>(options, gen));
    }
    aspp_ = list;
  }
  if (config.msc_features)
    for (int i = 0; i < kMscTaps; ++i)
      msc_mlps_.push_back(register_module(kMscNames[i], msc_mlp(kMscChannels[i], kMscStrides[i], gen)));
}

Tensor VggDeepLab::forward(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == 3, definition_.name, ": input must be a preprocessed BGR [N,H,W,3], got ",
               x.description());
  const VggPools pools = features_->forward_pools(x);
  Tensor h = pools.pool[4];
  if (pool5_avg_) h = pool5_avg_->forward(h);
  if (aspp_) return aspp_->forward(h);
  h = head_->fc7_features(h);
  if (!msc_mlps_.empty()) h = msc_concat(x, pools, h);
  return head_->classify(h);
}

Tensor VggDeepLab::msc_concat(const Tensor& x, const VggPools& pools, const Tensor& fc7) {
  std::vector<Tensor> parts = {fc7};
  const Tensor taps[kMscTaps] = {x, pools.pool[0], pools.pool[1], pools.pool[2], pools.pool[3]};
  for (int i = 0; i < kMscTaps; ++i) {
    Tensor y = msc_mlps_[i]->forward(taps[i]);
    // Exact for sides 8k+1 (321, 513: Caffe DeepLab's crop sizes); otherwise a strided MLP map can be one pixel
    // short of the ceil-mode pooled grid, and is resized onto it (align_corners, as Caffe's Interp).
    if (y.size(1) != fc7.size(1) || y.size(2) != fc7.size(2))
      y = resize_bilinear(y, ResizeParams::to_size(fc7.size(1), fc7.size(2), true));
    parts.push_back(y);
  }
  return concat_channels(parts);
}

void register_vgg_models(ModelRegistry& registry) {
  // Registry name and the one-line summary `atrous models` prints (the full definition is the description).
  const std::pair<const char*, const char*> variants[] = {
      {"deeplab-v1-largefov", "VGG-16 LargeFOV (v1): fc6 3x3 rate 12, 1024 wide, pool5 avg pool"},
      {"deeplab-v1-7x7r4", "VGG-16 DeepLab-7x7 (v1): fc6 7x7 rate 4, 4096 wide"},
      {"deeplab-v1-4x4r4", "VGG-16 DeepLab (v1): fc6 4x4 rate 4, 4096 wide"},
      {"deeplab-v1-4x4r8", "VGG-16 DeepLab-4x4 (v1): fc6 4x4 rate 8, 4096 wide"},
      {"deeplab-v1-msc-largefov", "VGG-16 MSc-LargeFOV (v1): fc6 3x3 rate 12 + 5 MLPs (+640 ch at fc8)"},
      {"deeplab-v2-vgg16-aspp-s", "VGG-16 ASPP-S (v2): fc6-fc7-fc8 branches at rates 2,4,8,12, summed"},
      {"deeplab-v2-vgg16-aspp-l", "VGG-16 ASPP-L (v2): fc6-fc7-fc8 branches at rates 6,12,18,24, summed"}};
  auto build = [](const std::string& variant, const ModelOptions& o) {
    Generator gen(o.seed);
    auto model = std::make_shared<VggDeepLab>(vgg_deeplab_config(variant, o.num_classes), gen);
    if (o.output_stride != 0) model->set_output_stride(o.output_stride);
    return model;
  };
  for (const auto& [variant, summary] : variants) {
    const std::string name = variant;
    registry.add(name, summary,
                 [build, name](const ModelOptions& o) -> std::shared_ptr<SegmentationModel> { return build(name, o); });
  }
  // v2's multi-scale-input models on the VGG-16 heads (LargeFOV here is v1's released model, avg pool included).
  const std::pair<const char*, const char*> msc[] = {{"deeplab-v2-vgg16-largefov-msc", "deeplab-v1-largefov"},
                                                     {"deeplab-v2-vgg16-aspp-s-msc", "deeplab-v2-vgg16-aspp-s"},
                                                     {"deeplab-v2-vgg16-aspp-l-msc", "deeplab-v2-vgg16-aspp-l"}};
  for (const auto& [msc_name, base] : msc) {
    const std::string name = msc_name, base_name = base;
    std::string summary;
    for (const auto& [variant, base_summary] : variants)
      if (base_name == variant) summary = base_summary;
    registry.add(name, summary + "; MSC 1/0.75/0.5, max",
                 [build, name, base_name](const ModelOptions& o) -> std::shared_ptr<SegmentationModel> {
                   MultiScaleOptions options;
                   options.name = name;
                   return std::make_shared<MultiScale>(build(base_name, o), options);
                 });
  }
}

}  // namespace atrous
