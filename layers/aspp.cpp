// ASPP v2 (sum of atrous 3x3 classifiers) and v3 (atrous branches + image pooling, concatenated and projected).
#include "layers/aspp.h"

#include "core/ops/concat.h"
#include "core/ops/elementwise.h"
#include "core/ops/pooling.h"
#include "core/ops/resize.h"
#include "layers/conv_bn_relu.h"
#include "layers/conv_norm_activation.h"

namespace atrous {
namespace {

// v2 needs a rate; v3 may have none (the 1x1 branch and image pooling only: MobileNetV2's Mobile DeepLabv3 head).
void check_rates(const char* who, const std::vector<int>& rates, bool allow_empty = false) {
  ATROUS_CHECK(allow_empty || !rates.empty(), who, ": need at least one rate");
  for (int r : rates) ATROUS_CHECK(r >= 1, who, ": rates must be >= 1, got ", r);
}

std::string rates_text(const std::vector<int>& rates) {
  std::string s;
  for (int r : rates) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s;
}

void check_input(const char* who, const Tensor& x, int channels) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == channels, who, ": input must be [N,H,W,", channels, "], got ",
               x.description());
}

}  // namespace

Tensor ModuleList::forward(const Tensor&) {
  ATROUS_FAIL("ModuleList: a list of parallel modules has no forward; its owner runs the children");
}

// ---- v2 ----

AsppV2::AsppV2(const AsppV2Options& o, Generator& gen) : Module("AsppV2") {
  check_rates("AsppV2", o.rates);
  ATROUS_CHECK(o.in_channels >= 1 && o.out_channels >= 1 && o.init_std > 0,
               "AsppV2: need channels >= 1 and init_std > 0");
  list_ = register_module("branches", std::make_shared<ModuleList>());
  for (int rate : o.rates) {
    auto conv = list_->add(std::make_shared<Conv2d>(Conv2dOptions(o.in_channels, o.out_channels, 3)
                                                        .with_dilation(rate)
                                                        .with_same_padding()
                                                        .with_lr_mult(o.weight_lr_mult, o.bias_lr_mult),
                                                    gen));
    conv->weight().detach().copy_(Tensor::randn(conv->weight().shape(), gen) * o.init_std);
    conv->bias().detach().zero_();
    branches_.push_back(conv);
  }
}

Tensor AsppV2::forward(const Tensor& x) {
  check_input("AsppV2", x, branches_[0]->options().in_channels);
  Tensor sum_of_branches = branches_[0]->forward(x);
  for (size_t i = 1; i < branches_.size(); ++i) sum_of_branches = add(sum_of_branches, branches_[i]->forward(x));
  return sum_of_branches;
}

void AsppV2::set_rates(const std::vector<int>& rates) {
  check_rates("AsppV2::set_rates", rates);
  ATROUS_CHECK(rates.size() == branches_.size(), "AsppV2::set_rates: the head has ", branches_.size(),
               " branches, got ", rates.size(), " rates");
  for (size_t i = 0; i < rates.size(); ++i) branches_[i]->set_dilation(rates[i], rates[i]);
}

std::vector<int> AsppV2::rates() const {
  std::vector<int> r;
  for (const auto& b : branches_) r.push_back(b->options().dilation);
  return r;
}

Conv2d& AsppV2::branch(size_t i) {
  ATROUS_CHECK(i < branches_.size(), "AsppV2::branch: index ", i, " out of ", branches_.size());
  return *branches_[i];
}

std::string AsppV2::describe() const {
  return "AsppV2(" + std::to_string(branches_[0]->options().in_channels) + " -> " +
         std::to_string(branches_[0]->options().out_channels) + ", 3x3 rates " + rates_text(rates()) + ", summed)";
}

// ---- v3 ----

AsppPooling::AsppPooling(int in_channels, int out_channels, const BatchNormSettings& bn, bool align_corners,
                         bool he_init, Generator& gen)
    : Module("AsppPooling"), align_corners_(align_corners) {
  register_module("0", std::make_shared<GlobalAvgPool2d>());
  conv_ =
      register_module("1", std::make_shared<Conv2d>(Conv2dOptions(in_channels, out_channels, 1).with_bias(false), gen));
  if (he_init) kaiming_normal_fan_out_(conv_->weight(), gen);
  bn_ = register_module("2", std::make_shared<BatchNorm2d>(bn.options(out_channels)));
  register_module("3", std::make_shared<ReLU>());
}

Tensor AsppPooling::forward(const Tensor& x) {
  check_input("AsppPooling", x, conv_->options().in_channels);
  const Tensor pooled = conv_bn_relu(*conv_, bn_.get(), global_avg_pool(x), true);
  return resize_bilinear(pooled, ResizeParams::to_size(x.size(1), x.size(2), align_corners_));
}

AsppV3::AsppV3(const AsppV3Options& o, Generator& gen) : Module("AsppV3"), options_(o) {
  check_rates("AsppV3", o.rates, true);
  ATROUS_CHECK(o.in_channels >= 1 && o.out_channels >= 1 && o.dropout >= 0 && o.dropout < 1,
               "AsppV3: need channels >= 1 and dropout in [0, 1), got in ", o.in_channels, ", out ", o.out_channels,
               ", dropout ", o.dropout);
  auto conv = [&](int in, int kernel, int rate) {
    auto c = std::make_shared<Conv2d>(
        Conv2dOptions(in, o.out_channels, kernel).with_dilation(rate).with_same_padding().with_bias(false), gen);
    if (o.he_init) kaiming_normal_fan_out_(c->weight(), gen);
    return c;
  };
  auto branch = [&](int kernel, int rate) {
    auto seq = std::make_shared<Sequential>();
    auto c = seq->add(conv(o.in_channels, kernel, rate));
    seq->add(std::make_shared<BatchNorm2d>(o.bn.options(o.out_channels)));
    seq->add(std::make_shared<ReLU>());
    branches_.push_back(seq);
    return c;
  };
  convs_ = register_module("convs", std::make_shared<ModuleList>());
  branch(1, 1);
  convs_->add(branches_.back());
  for (int rate : o.rates) {
    if (o.separable) {
      branches_.push_back(separable_conv_norm_activation(o.in_channels, o.out_channels, 3, rate, o.bn,
                                                         Activation::ReLU, gen));
      atrous_.push_back(static_cast<ConvNormActivation&>(*branches_.back()->children().front().second).conv_ptr());
    } else {
      atrous_.push_back(branch(3, rate));
    }
    convs_->add(branches_.back());
  }
  int concat_channels = o.out_channels * static_cast<int>(branches_.size());
  if (o.image_pooling) {
    pooling_ = convs_->add(
        std::make_shared<AsppPooling>(o.in_channels, o.out_channels, o.bn, o.align_corners, o.he_init, gen));
    concat_channels += o.out_channels;
  }
  project_ = register_module("project", std::make_shared<Sequential>());
  project_->add(conv(concat_channels, 1, 1));
  project_->add(std::make_shared<BatchNorm2d>(o.bn.options(o.out_channels)));
  project_->add(std::make_shared<ReLU>());
  if (o.dropout > 0) project_->add(std::make_shared<Dropout>(o.dropout));
}

Tensor AsppV3::forward(const Tensor& x) {
  check_input("AsppV3", x, options_.in_channels);
  std::vector<Tensor> features;
  for (const auto& b : branches_) features.push_back(b->forward(x));
  if (pooling_) features.push_back(pooling_->forward(x));
  return project_->forward(concat_channels(features));
}

void AsppV3::set_rates(const std::vector<int>& rates) {
  check_rates("AsppV3::set_rates", rates, true);
  ATROUS_CHECK(rates.size() == atrous_.size(), "AsppV3::set_rates: the module has ", atrous_.size(),
               " atrous branches, got ", rates.size(), " rates");
  for (size_t i = 0; i < rates.size(); ++i) atrous_[i]->set_dilation(rates[i], rates[i]);
  options_.rates = rates;
}

std::vector<int> AsppV3::rates() const {
  std::vector<int> r;
  for (const auto& c : atrous_) r.push_back(c->options().dilation);
  return r;
}

Conv2d& AsppV3::atrous_conv(size_t i) {
  ATROUS_CHECK(i < atrous_.size(), "AsppV3::atrous_conv: index ", i, " out of ", atrous_.size());
  return *atrous_[i];
}

std::string AsppV3::describe() const {
  return "AsppV3(" + std::to_string(options_.in_channels) + " -> " + std::to_string(options_.out_channels) +
         (atrous_.empty() ? ", 1x1"
                         : ", 1x1 + 3x3 " + std::string(options_.separable ? "separable " : "") + "rates " +
                               rates_text(rates())) + (pooling_ ? " + image pooling" : "") + ", BN+ReLU, concat, 1x1" +
         (options_.dropout > 0 ? ", dropout " + std::to_string(options_.dropout).substr(0, 4) : "") + ")";
}

}  // namespace atrous
