// max_pool2d, avg_pool2d (both count modes) and global_avg_pool over overlapping, ceil-mode, padded and strided
// windows; equal values (the first pixel of each window wins).
#include "core/ops/pooling.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

Pool2dParams window(int kernel, int stride, int padding, bool ceil_mode = false) {
  return Pool2dParams{}.with_kernel(kernel).with_stride(stride).with_padding(padding).with_ceil_mode(ceil_mode);
}

std::string describe(const Pool2dParams& p) {
  return "k" + std::to_string(p.kernel) + " s" + std::to_string(p.stride) + " p" + std::to_string(p.padding) +
         (p.ceil_mode ? " ceil" : "");
}

// Distinct values (a shuffled ramp): a finite difference never moves the maximum to another pixel.
Inputs distinct(const Shape& shape, Generator& gen) {
  const int64_t n = shape_numel(shape);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i) / n - 0.5;
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(v[i], v[std::min<int64_t>(i, static_cast<int64_t>(gen.next_uniform() * (i + 1)))]);
  }
  return {Tensor::from_vector<double>(v, shape).to(DType::f32)};
}

OpCase max_pool(Shape shape, Pool2dParams p) {
  OpCase c{"max_pool2d", dims(shape) + " " + describe(p),
           [shape](Generator& gen) { return distinct(shape, gen); },
           [p](const Inputs& t) { return max_pool2d(t[0], p); }};
  c.f32_tolerance = 0.0;  // picks an element
  c.f32_grad_tolerance = 1e-6;
  return c;
}

OpCase avg_pool(Shape shape, Pool2dParams p, bool include_pad) {
  p.count_include_pad = include_pad;
  OpCase c{"avg_pool2d", dims(shape) + " " + describe(p) + (include_pad ? " include_pad" : ""),
           [shape](Generator& gen) { return Inputs{uniform(shape, gen)}; },
           [p](const Inputs& t) { return avg_pool2d(t[0], p); }};
  c.f32_tolerance = c.f32_grad_tolerance = 1e-6;
  return c;
}

OpCase global_avg(Shape shape) {
  OpCase c{"global_avg_pool", dims(shape), [shape](Generator& gen) { return Inputs{uniform(shape, gen)}; },
           [](const Inputs& t) { return global_avg_pool(t[0]); }};
  c.f32_tolerance = c.f32_grad_tolerance = 1e-6;
  return c;
}

// Equal values everywhere: the first pixel of each window wins, and its gradient goes there, on every device.
OpCase max_pool_ties() {
  OpCase c = max_pool({1, 6, 6, 2}, window(3, 2, 0));
  c.name = "ties";
  c.inputs = [](Generator&) { return Inputs{Tensor::ones({1, 6, 6, 2})}; };
  c.gradcheck.enabled = false;  // not differentiable at a tie
  return c;
}

std::vector<OpCase> all_cases() {
  const Shape shape{2, 7, 6, 3};
  std::vector<OpCase> cases;
  for (const Pool2dParams& p : {window(3, 2, 1, true), window(3, 1, 1), window(2, 2, 0), window(3, 2, 0, true),
                                window(2, 2, 1, true), window(3, 2, 1), window(5, 2, 2)}) {
    cases.push_back(max_pool(shape, p));
    for (bool include_pad : {true, false}) cases.push_back(avg_pool(shape, p, include_pad));
  }
  cases.push_back(max_pool({2, 11, 10, 5}, window(3, 2, 1, true)));
  cases.push_back(max_pool_ties());
  cases.push_back(global_avg({2, 5, 3, 4}));
  cases.push_back(global_avg({2, 11, 10, 5}));
  return cases;
}

// VGG's pool1 on a 321 crop, DeepLab-LargeFOV's 3x3 stride-1 pools, ASPP's image pooling.
const RegisterOpCases registered(all_cases(), {max_pool({1, 321, 321, 64}, window(3, 2, 1, true)),
                                               max_pool({1, 41, 41, 512}, window(3, 1, 1)),
                                               avg_pool({1, 41, 41, 512}, window(3, 1, 1), true),
                                               global_avg({1, 65, 65, 2048})});

}  // namespace
}  // namespace atrous::op_cases
