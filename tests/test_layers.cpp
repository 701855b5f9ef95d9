// Module plumbing (names, modes, state dicts, parameter groups) and the basic layers.
#include <gtest/gtest.h>

#include "core/atrous.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"
#include "layers/sequential.h"
#include "layers/simple_layers.h"

using namespace atrous;

namespace {
std::shared_ptr<Sequential> small_net() {
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Conv2d>(Conv2dOptions(3, 8, 3).with_padding(1).with_bias(false)));
  net->add(std::make_shared<BatchNorm2d>(BatchNorm2dOptions(8)));
  net->add(std::make_shared<ReLU>());
  net->add(std::make_shared<MaxPool2d>(Pool2dParams().with_kernel(3).with_stride(2).with_padding(1).with_ceil_mode(true)));
  net->add("classifier", std::make_shared<Conv2d>(Conv2dOptions(8, 5, 1).with_lr_mult(10, 20)));
  return net;
}
}  // namespace

TEST(Module, DottedNamesAndCounts) {
  auto net = small_net();
  std::vector<std::string> names;
  for (const auto& p : net->named_parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "classifier.weight", "classifier.bias"}));
  std::vector<std::string> buffers;
  for (const auto& b : net->named_buffers()) buffers.push_back(b.name);
  EXPECT_EQ(buffers, (std::vector<std::string>{"1.running_mean", "1.running_var"}));
  EXPECT_EQ(net->parameter_count(), 8 * 3 * 3 * 3 + 8 + 8 + 5 * 8 + 5);
  const std::string summary = net->summary();
  EXPECT_NE(summary.find("Conv2d(3 -> 8, 3x3, pad 1, no bias)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("classifier: Conv2d(8 -> 5, 1x1)  [45 params: weight[5,1,1,8] bias[5]]"), std::string::npos)
      << summary;
}

TEST(Module, ParamGroupsFollowMultipliersAndFreezing) {
  auto net = small_net();
  auto groups = net->param_groups();
  // conv weight (1,1); BN weight+bias (1,0); classifier weight (10,1); classifier bias (20,0)
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[2].lr_mult, 10.0);
  EXPECT_EQ(groups[3].lr_mult, 20.0);
  EXPECT_EQ(groups[3].decay_mult, 0.0);
  std::static_pointer_cast<BatchNorm2d>(net->children()[1].second)->set_frozen(true);
  size_t total = 0;
  for (const auto& g : net->param_groups()) total += g.params.size();
  EXPECT_EQ(total, 3u);  // frozen BN weight and bias left out
}

TEST(Module, TrainEvalChangesBatchNormBehaviour) {
  auto net = small_net();
  Generator gen(1);
  Tensor x = Tensor::randn({2, 9, 9, 3}, gen);
  Tensor before = net->state_dict().at("1.running_mean").clone();
  net->forward(x);
  EXPECT_NE(net->state_dict().at("1.running_mean").to_double_vector(), before.to_double_vector());
  net->eval();
  EXPECT_FALSE(net->children()[1].second->is_training());
  Tensor after_train = net->state_dict().at("1.running_mean").clone();
  Tensor y1 = net->forward(x), y2 = net->forward(x);
  EXPECT_EQ(net->state_dict().at("1.running_mean").to_double_vector(), after_train.to_double_vector());
  EXPECT_EQ(y1.to_double_vector(), y2.to_double_vector());
  EXPECT_EQ(y1.shape(), (Shape{2, 5, 5, 5}));
}

TEST(Module, StateDictRoundTripAndStrictErrors) {
  auto a = small_net(), b = small_net();
  Generator gen(2);
  Tensor x = Tensor::randn({1, 7, 7, 3}, gen);
  a->eval();
  b->eval();
  b->load_state_dict(a->state_dict());
  EXPECT_EQ(a->forward(x).to_double_vector(), b->forward(x).to_double_vector());

  auto state = a->state_dict();
  state.erase("classifier.bias");
  EXPECT_THROW(b->load_state_dict(state), Error);
  auto report = b->load_state_dict(state, /*strict=*/false);
  ASSERT_EQ(report.size(), 1u);
  EXPECT_EQ(report[0], "missing: classifier.bias");

  state = a->state_dict();
  state["extra.weight"] = Tensor::ones({1});
  EXPECT_THROW(b->load_state_dict(state), Error);
  state = a->state_dict();
  state["0.weight"] = Tensor::ones({8, 3, 3, 4});
  try {
    b->load_state_dict(state);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("0.weight"), std::string::npos) << e.what();
  }
}

TEST(Module, BackwardReachesEveryTrainableParameter) {
  auto net = small_net();
  Generator gen(3);
  sum(net->forward(Tensor::randn({2, 9, 9, 3}, gen))).backward();
  for (const auto& p : net->named_parameters()) EXPECT_TRUE(p.tensor.grad().defined()) << p.name;
}

TEST(Module, DuplicateOrBadNamesAreErrors) {
  auto net = std::make_shared<Sequential>();
  net->add("a", std::make_shared<ReLU>());
  EXPECT_THROW(net->add("a", std::make_shared<ReLU>()), Error);
  EXPECT_THROW(net->add("b.c", std::make_shared<ReLU>()), Error);
  EXPECT_THROW(Conv2d(Conv2dOptions(0, 3, 3)), Error);
  EXPECT_THROW(BatchNorm2d(BatchNorm2dOptions(0)), Error);
  EXPECT_THROW(Dropout(1.5), Error);
}

TEST(Conv2dLayer, SetDilationChangesTheOperatorNotTheWeights) {
  Conv2d conv(Conv2dOptions(2, 2, 3).with_dilation(2).with_same_padding());
  EXPECT_EQ(conv.options().padding, 2);
  Generator gen(4);
  Tensor x = Tensor::randn({1, 9, 9, 2}, gen);
  Tensor y2 = conv(x);
  conv.set_dilation(4, 4);
  Tensor y4 = conv(x);
  EXPECT_EQ(y2.shape(), y4.shape());
  EXPECT_NE(y2.to_double_vector(), y4.to_double_vector());
  Tensor reference = conv2d(x, conv.weight(), conv.bias(), Conv2dParams().with_dilation(4).with_padding(4));
  EXPECT_EQ(y4.to_double_vector(), reference.to_double_vector());
}
