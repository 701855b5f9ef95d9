// Views made contiguous: permute and slices (their backward copies into a view of a zero tensor), and a sliding
// window's crop of a crop.
#include "core/tensor.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

OpCase view(const char* op, const char* name, std::function<Tensor(const Tensor&)> f) {
  OpCase c{op, name, [](Generator& gen) { return Inputs{uniform({2, 5, 7, 3}, gen)}; },
           [f](const Inputs& t) { return f(t[0]).contiguous(); }};
  c.f32_tolerance = c.f32_grad_tolerance = 0.0;  // copies are exact
  return c;
}

const RegisterOpCases registered({
    view("permute", "NHWC to NCHW", [](const Tensor& x) { return x.permute({0, 3, 1, 2}); }),
    view("slice", "rows", [](const Tensor& x) { return x.slice(1, 1, 4); }),
    view("slice", "channels", [](const Tensor& x) { return x.slice(3, 1, 3); }),
    view("slice", "window of a window", [](const Tensor& x) { return x.slice(1, 1, 5).slice(2, 2, 6); }),
});

}  // namespace
}  // namespace atrous::op_cases
