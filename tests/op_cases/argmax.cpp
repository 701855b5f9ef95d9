// argmax_channels (not differentiable: its i32 output is compared exactly).
#include <cmath>

#include "core/ops/argmax.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

Tensor run(const Inputs& t) { return argmax_channels(t[0]); }

OpCase random_scores() {
  OpCase c{"argmax_channels", "2x9x11x21", [](Generator& gen) { return Inputs{uniform({2, 9, 11, 21}, gen)}; }, run};
  c.f32_tolerance = 0.0;
  c.differentiable = false;
  return c;
}

// Ties pick the lowest index; NaN counts as the largest.
OpCase ties_and_nan() {
  OpCase c = random_scores();
  c.name = "ties and NaN";
  c.inputs = [](Generator&) { return Inputs{Tensor::from_vector<float>({1, 3, 3, 0, NAN, 2, 5, 5, 5}, {3, 3})}; };
  return c;
}

// A 513 crop's upsampled VOC logits.
OpCase crop_logits() {
  OpCase c = random_scores();
  c.name = "1x513x513x21";
  c.inputs = [](Generator& gen) { return Inputs{uniform({1, 513, 513, 21}, gen)}; };
  return c;
}

const RegisterOpCases registered({random_scores(), ties_and_nan()}, {crop_logits()});

}  // namespace
}  // namespace atrous::op_cases
