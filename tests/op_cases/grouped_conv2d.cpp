// conv2d with groups > 1: depthwise (multipliers 1 and 2) and general groups (op_cases/grouped_conv_shapes.h).
// Timed at MobileNetV3's depthwise layers.
#include "core/ops/conv2d.h"
#include "op_cases/grouped_conv_shapes.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

using grouped_conv_shapes::GroupedConv;

OpCase grouped(const GroupedConv& g) {
  OpCase c{"grouped_conv2d", g.str(),
           [g](Generator& gen) {
             Inputs in{uniform(g.x_shape(), gen), uniform(g.w_shape(), gen)};
             if (g.bias) in.push_back(uniform({g.cout}, gen));
             return in;
           },
           [p = g.params()](const Inputs& t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), p); }};
  c.f32_grad_tolerance = 1e-4;
  return c;
}

std::vector<OpCase> tested() {
  std::vector<OpCase> cases;
  for (const GroupedConv& g : grouped_conv_shapes::all()) cases.push_back(grouped(g));
  return cases;
}

// MobileNetV3-Large's 3x3 depthwise layers at a 513 crop: the stride-1 one at 1/4 and the 5x5 stride-2 one.
const RegisterOpCases registered(tested(), {grouped({1, 129, 129, 72, 72, 3, 1, 1, 1, 72}),
                                            grouped({1, 129, 129, 72, 72, 5, 2, 2, 1, 72})});

}  // namespace
}  // namespace atrous::op_cases
