// relu6, hardsigmoid, hardswish, sigmoid and scale_channels.
#include "core/ops/activation.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

const Shape kShape{2, 5, 7, 13};

// Values over every piece (the kinks are at -3, 0, 3 and 6). A random point within the finite difference's eps of
// a kink has probability ~1e-6 per element, and the seeds are fixed.
Inputs spread(Generator& gen) { return {uniform(kShape, gen, -5.0, 8.0)}; }

// The same with each kink planted exactly: the edge conventions must agree between devices and dtypes. Not
// differentiable there, so no finite differences.
Inputs kinks(Generator& gen) {
  std::vector<double> v = uniform(kShape, gen, -5.0, 8.0).to_double_vector();
  const double at[] = {-3.0, 0.0, 3.0, 6.0};
  for (size_t i = 0; i < v.size(); i += 11) v[i] = at[(i / 11) % 4];
  return {Tensor::from_vector<double>(v, kShape).to(DType::f32)};
}

std::vector<OpCase> activation(const char* op, Tensor (*f)(const Tensor&)) {
  auto run = [f](const Inputs& t) { return f(t[0]); };
  OpCase smooth{op, "spread", spread, run}, edges{op, "kinks", kinks, run};
  smooth.f32_tolerance = smooth.f32_grad_tolerance = edges.f32_tolerance = edges.f32_grad_tolerance = 1e-6;
  edges.gradcheck.enabled = false;
  return {smooth, edges};
}

// The scale gradient sums H*W products per channel; 1x1 images with more channels than a warp (the SE block's own
// resolution); more channels than one CPU task's block of 64.
OpCase scale_channels_case(Shape x_shape) {
  OpCase c{"scale_channels", dims(x_shape),
           [x_shape](Generator& gen) {
             return Inputs{uniform(x_shape, gen), uniform({x_shape[0], 1, 1, x_shape[3]}, gen)};
           },
           [](const Inputs& t) { return scale_channels(t[0], t[1]); }};
  c.f32_tolerance = c.f32_grad_tolerance = 1e-6;
  return c;
}

// Only one input taking a gradient: the backward saves just what that gradient reads.
OpCase scale_channels_alone(size_t frozen) {
  OpCase c = scale_channels_case({2, 4, 3, 6});
  c.name += frozen == 0 ? " gradient of s alone" : " gradient of x alone";
  c.no_grad_inputs = {frozen};
  return c;
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  for (auto [op, f] : {std::pair{"relu6", relu6}, {"hardsigmoid", hardsigmoid}, {"hardswish", hardswish},
                       {"sigmoid", sigmoid}}) {
    for (OpCase& c : activation(op, f)) cases.push_back(c);
  }
  for (const Shape& s : {Shape{2, 5, 7, 13}, Shape{3, 1, 1, 40}, Shape{1, 1, 1, 3}, Shape{2, 2, 3, 70}}) {
    cases.push_back(scale_channels_case(s));
  }
  cases.push_back(scale_channels_alone(0));
  cases.push_back(scale_channels_alone(1));
  return cases;
}

// Timed: MobileNetV3-Large's first hardswish (16 channels at half of a 513 crop).
OpCase first_hardswish() {
  return OpCase{"hardswish", "1x257x257x16", [](Generator& gen) { return Inputs{uniform({1, 257, 257, 16}, gen)}; },
                [](const Inputs& t) { return hardswish(t[0]); }};
}

// Timed: the first hardswish and an SE block's rescale.
const RegisterOpCases registered(all_cases(), {first_hardswish(), scale_channels_case({1, 65, 65, 120})});

}  // namespace
}  // namespace atrous::op_cases
