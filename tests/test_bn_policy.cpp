// BN policies reach every BatchNorm2d of a nested model and change what a training-mode forward does to the
// running statistics: momentum m, TF decay d (momentum 1 - d), or frozen (running statistics used and kept).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "core/atrous.h"
#include "dist/communicator.h"
#include "layers/batch_norm2d.h"
#include "models/tiny_deeplab.h"
#include "solvers/bn_policy.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;

namespace {

// Two levels of nesting, so that the policy has to recurse.
class Inner : public Module {
 public:
  Inner() : Module("Inner") { bn = register_module("bn", std::make_shared<BatchNorm2d>(BatchNorm2dOptions(2))); }
  Tensor forward(const Tensor& x) override { return bn->forward(x); }
  std::shared_ptr<BatchNorm2d> bn;
};

class Outer : public Module {
 public:
  Outer() : Module("Outer") { inner = register_module("inner", std::make_shared<Inner>()); }
  Tensor forward(const Tensor& x) override { return inner->forward(x); }
  std::shared_ptr<Inner> inner;
};

// [1,2,1,2]: channel 0 holds {1, 3} (mean 2), channel 1 holds {4, 8} (mean 6).
Tensor batch() { return Tensor::from_vector<float>({1, 4, 3, 8}, {1, 2, 1, 2}); }

}  // namespace

TEST(BnPolicy, TrainModeSetsMomentum) {
  Outer model;
  BnPolicy policy;
  policy.momentum = 0.25;
  EXPECT_EQ(apply_bn_policy(model, policy), 1);
  model.train();
  model.forward(batch());
  const auto mean = model.inner->bn->state_dict().at("running_mean").to_double_vector();
  EXPECT_DOUBLE_EQ(mean[0], 0.25 * 2);
  EXPECT_DOUBLE_EQ(mean[1], 0.25 * 6);
  EXPECT_EQ(model.param_groups().at(0).params.size(), 2u);  // weight and bias still train
}

// "sync" synchronises the layers over the given ranks (one process here: the statistics are its own, as "train"
// gives); any other mode takes the synchronisation away again.
TEST(BnPolicy, SyncModeSynchronisesEveryLayerAndOtherModesUndoIt) {
  Outer model;
  BnPolicy policy;
  policy.mode = BnPolicyMode::sync;
  policy.momentum = 0.25;
  EXPECT_EQ(apply_bn_policy(model, policy, std::make_shared<dist::SingleProcess>()), 1);
  EXPECT_TRUE(model.inner->bn->synchronized());
  model.train();
  model.forward(batch());
  EXPECT_DOUBLE_EQ(model.inner->bn->state_dict().at("running_mean").to_double_vector()[1], 0.25 * 6);
  policy.mode = BnPolicyMode::train;
  apply_bn_policy(model, policy, std::make_shared<dist::SingleProcess>());
  EXPECT_FALSE(model.inner->bn->synchronized());
}

TEST(BnPolicy, DecayIsOneMinusMomentum) {
  Outer model;
  BnPolicy policy;
  policy.mode = BnPolicyMode::decay;
  policy.decay = 0.9997;
  EXPECT_NEAR(policy.effective_momentum(), 0.0003, 1e-15);
  EXPECT_EQ(policy.str(), "decay 0.9997 (momentum 0.0003)");
  apply_bn_policy(model, policy);
  EXPECT_NEAR(model.inner->bn->options().momentum, 0.0003, 1e-15);
  model.train();
  model.forward(batch());
  const auto mean = model.inner->bn->state_dict().at("running_mean").to_double_vector();
  EXPECT_NEAR(mean[0], (1 - 0.9997) * 2, 1e-9);
  EXPECT_NEAR(mean[1], (1 - 0.9997) * 6, 1e-9);
}

TEST(BnPolicy, FrozenKeepsStatisticsAndDropsParametersFromTraining) {
  Outer model;
  BnPolicy frozen;
  frozen.mode = BnPolicyMode::frozen;
  apply_bn_policy(model, frozen);
  EXPECT_TRUE(model.inner->bn->frozen());
  EXPECT_TRUE(model.param_groups().empty());
  model.train();
  const Tensor y = model.forward(batch());
  // Running statistics (0, 1) and identity affine: the output is the input scaled by 1/sqrt(1 + eps).
  EXPECT_EQ(model.inner->bn->state_dict().at("running_mean").to_double_vector(), (std::vector<double>{0, 0}));
  EXPECT_NEAR(y.to_double_vector()[3], 8 / std::sqrt(1 + 1e-5), 1e-5);

  // Back to training: parameters train again.
  apply_bn_policy(model, BnPolicy{});
  EXPECT_FALSE(model.inner->bn->frozen());
  EXPECT_EQ(model.param_groups().at(0).params.size(), 2u);
}

TEST(BnPolicy, ReachesEveryLayerOfAModel) {
  Generator gen(1);
  TinyDeepLab model(TinyDeepLabConfig{}, gen);
  BnPolicy frozen;
  frozen.mode = BnPolicyMode::frozen;
  const int layers = apply_bn_policy(model, frozen);
  EXPECT_EQ(layers, 3);  // stage1, stage2, dilated
  int seen = 0;
  for (const auto& p : model.named_parameters())
    if (p.name.find("bn.") != std::string::npos) {
      EXPECT_FALSE(p.tensor.requires_grad()) << p.name;
      ++seen;
    }
  EXPECT_EQ(seen, 2 * layers);
}

TEST(BnPolicy, InvalidSettingsNameTheSetting) {
  Outer model;
  BnPolicy p;
  expect_error([] { bn_policy_modes().parse("mirror"); }, {"bn mode 'mirror'", "train, frozen, decay, sync"});
  p.mode = BnPolicyMode::sync;
  expect_error([&] { apply_bn_policy(model, p); }, {"sync batch norm needs the ranks"});
  p.mode = BnPolicyMode::train;
  p.momentum = 1.5;
  expect_error([&] { apply_bn_policy(model, p); }, {"momentum", "1.5"});
  p.mode = BnPolicyMode::decay;
  p.decay = 1.0;
  expect_error([&] { apply_bn_policy(model, p); }, {"decay", "1"});
  p.mode = BnPolicyMode::frozen;
  expect_error([&] { p.effective_momentum(); }, {"frozen"});
}
