// LR policies against values computed by hand from Caffe's formulas: step, poly, constant, linear warmup; settings
// that make no sense are errors naming the setting.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "solvers/lr_policy.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;

TEST(LrPolicy, PolyMatchesCaffe) {
  LrPolicy p;
  p.kind = LrSchedule::poly;
  p.base_lr = 0.01;
  p.max_iterations = 100;
  p.power = 0.9;
  EXPECT_DOUBLE_EQ(p.lr_at(0), 0.01);
  // 0.01 * 0.5^0.9 = 0.01 * exp(0.9 ln 0.5) = 0.0053588673126815...
  EXPECT_NEAR(p.lr_at(50), 0.0053588673126815, 1e-15);
  // 0.01 * 0.01^0.9 = 0.01 * 10^-1.8 = 1.5848931924611e-4
  EXPECT_NEAR(p.lr_at(99), 1.5848931924611e-4, 1e-16);
  EXPECT_EQ(p.lr_at(100), 0.0);
  EXPECT_EQ(p.lr_at(150), 0.0);  // Caffe would give NaN past max_iter; we hold 0
  p.power = 1.0;
  EXPECT_DOUBLE_EQ(p.lr_at(25), 0.0075);
}

TEST(LrPolicy, StepMultipliesByGammaEveryStep) {
  LrPolicy p;
  p.kind = LrSchedule::step;
  p.base_lr = 0.001;
  p.step_size = 2000;
  p.gamma = 0.1;
  p.max_iterations = 6000;
  EXPECT_DOUBLE_EQ(p.lr_at(0), 0.001);
  EXPECT_DOUBLE_EQ(p.lr_at(1999), 0.001);
  EXPECT_DOUBLE_EQ(p.lr_at(2000), 1e-4);
  EXPECT_DOUBLE_EQ(p.lr_at(3999), 1e-4);
  EXPECT_DOUBLE_EQ(p.lr_at(4000), 1e-5);
  EXPECT_DOUBLE_EQ(p.lr_at(5999), 1e-5);
  p.gamma = 0.5;
  EXPECT_DOUBLE_EQ(p.lr_at(6000), 0.001 / 8);
}

TEST(LrPolicy, ConstantIgnoresIteration) {
  LrPolicy p;
  p.kind = LrSchedule::constant;
  p.base_lr = 0.5;
  EXPECT_EQ(p.lr_at(0), 0.5);
  EXPECT_EQ(p.lr_at(19999), 0.5);
  EXPECT_EQ(p.lr_at(1000000), 0.5);
}

TEST(LrPolicy, LinearWarmupRisesToTheScheduleAtWarmupEnd) {
  LrPolicy p;
  p.kind = LrSchedule::poly;
  p.base_lr = 0.01;
  p.max_iterations = 100;
  p.power = 1.0;  // lr(i) = 0.01 (1 - i/100): lr(0) = 0.01, lr(10) = 0.009
  p.warmup_iterations = 10;
  p.warmup_start_factor = 0.1;
  EXPECT_DOUBLE_EQ(p.lr_at(0), 0.001);                            // 0.1 * lr(0)
  EXPECT_DOUBLE_EQ(p.lr_at(5), 0.001 + (0.009 - 0.001) * 0.5);  // half way: 0.005
  EXPECT_DOUBLE_EQ(p.lr_at(9), 0.001 + (0.009 - 0.001) * 0.9);
  EXPECT_DOUBLE_EQ(p.lr_at(10), 0.009);  // the schedule itself from here on
  EXPECT_DOUBLE_EQ(p.lr_at(20), 0.008);

  LrPolicy c;
  c.kind = LrSchedule::constant;
  c.base_lr = 0.5;
  c.warmup_iterations = 4;
  c.warmup_start_factor = 0.0;
  EXPECT_EQ(c.lr_at(0), 0.0);
  EXPECT_DOUBLE_EQ(c.lr_at(1), 0.125);
  EXPECT_DOUBLE_EQ(c.lr_at(3), 0.375);
  EXPECT_EQ(c.lr_at(4), 0.5);

  LrPolicy s;
  s.kind = LrSchedule::step;
  s.base_lr = 1.0;
  s.step_size = 2;
  s.gamma = 0.5;
  s.warmup_iterations = 4;  // ramps from 0.1 * 1 to lr(4) = 0.25
  s.warmup_start_factor = 0.1;
  EXPECT_DOUBLE_EQ(s.lr_at(2), 0.1 + (0.25 - 0.1) * 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 0.25);
}

TEST(LrPolicy, PaperPresetsGiveTheirStartingRates) {
  LrPolicy largefov;  // batch 10, lr 1e-3, poly 0.9, 20K iterations
  EXPECT_NO_THROW(largefov.validate());
  EXPECT_DOUBLE_EQ(largefov.lr_at(0), 1e-3);
  EXPECT_NEAR(largefov.lr_at(10000), 1e-3 * std::pow(0.5, 0.9), 1e-15);
  EXPECT_EQ(largefov.str(), "poly base_lr 0.001 power 0.9 max_iterations 20000");
}

TEST(LrPolicy, InvalidSettingsNameTheSetting) {
  auto bad = [](auto edit, std::vector<std::string> needles) {
    LrPolicy p;
    edit(p);
    expect_error([&] { p.validate(); }, needles);
    expect_error([&] { p.lr_at(0); }, needles);
  };
  bad([](LrPolicy& p) { p.base_lr = -1; }, {"base_lr", "-1"});
  bad([](LrPolicy& p) { p.base_lr = std::nan(""); }, {"base_lr"});
  bad([](LrPolicy& p) { p.max_iterations = 0; }, {"max_iterations", "0"});
  bad([](LrPolicy& p) { p.power = -0.5; }, {"power", "-0.5"});
  bad([](LrPolicy& p) { p.kind = LrSchedule::step; p.step_size = 0; }, {"step_size"});
  bad([](LrPolicy& p) { p.kind = LrSchedule::step; p.gamma = 0; }, {"gamma"});
  bad([](LrPolicy& p) { p.warmup_iterations = -3; }, {"warmup_iterations", "-3"});
  bad([](LrPolicy& p) { p.warmup_iterations = 20000; }, {"warmup_iterations", "max_iterations"});
  bad([](LrPolicy& p) { p.warmup_start_factor = 1.5; }, {"warmup_start_factor", "1.5"});
  LrPolicy p;
  expect_error([&] { p.lr_at(-1); }, {"iteration", "-1"});
  // Settings a kind does not use are not checked: step ignores power.
  p.kind = LrSchedule::step;
  p.power = -1;
  EXPECT_NO_THROW(p.validate());
}
