// add, sub, mul, maximum, scale, relu, add_relu, sum, mean.
#include "core/ops/elementwise.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

const Shape kShape{2, 5, 7, 3};

// Two operands; f32 differences from f64 are one rounding of the result.
OpCase binary(const char* op, Tensor (*f)(const Tensor&, const Tensor&), Shape shape = kShape) {
  OpCase c{op, dims(shape), [shape](Generator& gen) { return Inputs{uniform(shape, gen), uniform(shape, gen)}; },
           [f](const Inputs& t) { return f(t[0], t[1]); }};
  c.f32_tolerance = c.f32_grad_tolerance = 1e-6;
  return c;
}

OpCase unary(const char* op, std::function<Tensor(const Tensor&)> f, Shape shape = kShape) {
  OpCase c{op, dims(shape), [shape](Generator& gen) { return Inputs{uniform(shape, gen)}; },
           [f](const Inputs& t) { return f(t[0]); }};
  c.f32_tolerance = c.f32_grad_tolerance = 1e-6;
  return c;
}

OpCase maximum_ties() {
  OpCase c{"maximum", "ties", [](Generator& gen) {
             const Tensor a = uniform(kShape, gen);
             return Inputs{a, a.clone()};
           },
           [](const Inputs& t) { return maximum(t[0], t[1]); }};
  c.gradcheck.enabled = false;  // not differentiable where the operands are equal: the convention is compared
  return c;
}

// Operands of different spreads, so that a + b crosses zero unevenly.
OpCase add_relu_case() {
  OpCase c = binary("add_relu", add_relu);
  c.inputs = [](Generator& gen) { return Inputs{uniform(kShape, gen, -1, 1), uniform(kShape, gen, -0.5, 0.5)}; };
  return c;
}

std::vector<OpCase> tested() {
  return {binary("add", add),
          binary("sub", sub),
          binary("mul", mul),
          binary("maximum", maximum),
          maximum_ties(),
          add_relu_case(),
          unary("scale", [](const Tensor& x) { return scale(x, -2.5); }),
          unary("relu", relu),
          unary("sum", sum),
          unary("mean", mean),
          unary("sum", sum, {1 << 20})};  // long enough for both reduction stages
}

// A ResNet-101 bottleneck's end at output stride 8 on a 513 crop; a loss-sized reduction.
std::vector<OpCase> timed() {
  return {binary("add_relu", add_relu, {1, 65, 65, 2048}), binary("add", add, {1, 65, 65, 2048}),
          unary("sum", sum, {1, 513, 513, 21})};
}

const RegisterOpCases registered(tested(), timed());

}  // namespace
}  // namespace atrous::op_cases
