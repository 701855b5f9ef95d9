// conv2d (groups 1): padding, stride, dilation (DeepLab's rates up to 12, where most taps fall in the padding),
// 1x1 (the GEMM path), 7x7 stems, wide layers (several tiles; tap-by-tap backward-data), many pixels (a split
// backward-weight), with and without bias. Timed at the DeepLab suite's shapes (op_cases/conv_shapes.h).
#include "core/cuda_runtime.h"
#include "core/ops/conv2d.h"
#include "op_cases/conv_shapes.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

Conv2dParams padded(int padding, int dilation = 1, int stride = 1) {
  return Conv2dParams{}.with_padding(padding).with_dilation(dilation).with_stride(stride);
}

OpCase conv(const char* name, Shape x, int64_t cout, int64_t kernel, Conv2dParams p, bool bias) {
  const Shape w{cout, kernel, kernel, x[3]};
  OpCase c{"conv2d", name,
           [=](Generator& gen) {
             Inputs in{uniform(x, gen), uniform(w, gen)};
             if (bias) in.push_back(uniform({cout}, gen));
             return in;
           },
           [p](const Inputs& t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), p); }};
  c.f32_grad_tolerance = 5e-5;  // backward-weight sums over every pixel
  return c;
}

// A frozen layer: only x takes a gradient (and only the weight is saved for it).
OpCase frozen_weights() {
  OpCase c = conv("frozen weights", {1, 5, 5, 2}, 3, 3, padded(0), false);
  c.no_grad_inputs = {1};
  return c;
}

// tf32 (selected explicitly): the tensor-core kernel and cuBLAS's tf32 mode. CUDA's inputs lose 13 mantissa bits,
// so the tolerance is 5e-3 of the largest element; a wrong index would still be off by O(1). The CPU ignores the
// mode. f32 only: there is nothing to check in f64 or by finite differences that the plain cases do not.
OpCase tf32(const char* name, Shape x, int64_t cout, int64_t kernel, Conv2dParams p) {
  OpCase c = conv(name, x, cout, kernel, p, true);
  c.name = std::string("tf32 ") + name;
  c.cuda_mode = cuda::set_tf32_convolutions;
  c.dtypes = {DType::f32};
  c.f32_tolerance = c.f32_grad_tolerance = 5e-3;
  c.gradcheck.enabled = false;
  return c;
}

std::vector<OpCase> tested() {
  return {
      conv("3x3 pad 1", {2, 9, 8, 5}, 7, 3, padded(1), true),
      conv("3x3 pad 1 small", {2, 5, 6, 3}, 4, 3, padded(1), true),
      conv("3x3 dilation 2", {1, 12, 11, 6}, 9, 3, padded(2, 2), false),
      conv("3x3 dilation 4", {1, 7, 9, 3}, 2, 3, padded(4, 4), true),
      conv("3x3 dilation 4 no pad", {1, 13, 14, 3}, 4, 3, padded(0, 4), true),
      conv("3x3 dilation 2 no pad", {2, 7, 9, 2}, 3, 3, padded(0, 2), true),
      conv("3x3 stride 2", {2, 11, 10, 4}, 6, 3, padded(1, 1, 2), true),
      conv("3x3 stride 2 no pad", {2, 7, 9, 2}, 3, 3, padded(0, 1, 2), true),
      conv("3x3 stride 2 dilation 2", {1, 9, 8, 2}, 2, 3, padded(2, 2, 2), false),
      conv("3x3 stride 3 dilation 2", {1, 16, 15, 4}, 5, 3, padded(1, 2, 3), false),
      conv("rate 12 on 13x13", {1, 13, 13, 4}, 3, 3, padded(12, 12), true),  // DeepLab's fc6
      conv("rate 12 batch 2", {2, 14, 15, 3}, 2, 3, padded(12, 12), false),
      conv("7x7 stride 2", {1, 19, 17, 3}, 8, 7, padded(3, 1, 2), false),  // ResNet's stem
      conv("7x7 stride 2 bias", {1, 11, 9, 3}, 2, 7, padded(3, 1, 2), true),
      conv("1x1", {2, 6, 7, 20}, 70, 1, padded(0), true),
      conv("1x1 stride 2", {2, 7, 6, 9}, 5, 1, padded(0, 1, 2), false),
      conv("1x1 padded", {1, 3, 4, 3}, 2, 1, padded(1), false),
      conv("wide 3x3", {1, 10, 9, 70}, 130, 3, padded(1), true),
      conv("256 outputs dilated", {2, 5, 4, 2}, 256, 3, padded(2, 2), true),  // tap-by-tap backward-data
      conv("many pixels", {2, 48, 40, 8}, 6, 3, padded(2, 2), true),         // split backward-weight
      frozen_weights(),
      tf32("3x3 dilation 2 edge tiles", {2, 13, 11, 37}, 70, 3, padded(2, 2)),
      tf32("3x3 stride 2", {1, 17, 16, 20}, 24, 3, padded(1, 1, 2)),
      tf32("many pixels", {2, 48, 40, 8}, 6, 3, padded(1)),
      tf32("1x1 (cuBLAS)", {2, 9, 7, 64}, 96, 1, padded(0)),
  };
}

std::vector<OpCase> timed() {
  std::vector<OpCase> cases;
  for (const conv_shapes::ConvCase& s : conv_shapes::deeplab_suite()) {
    cases.push_back(conv(s.name, {s.n, s.h, s.w, s.cin}, s.cout, s.kernel, s.params(), true));
  }
  return cases;
}

const RegisterOpCases registered(tested(), timed());

}  // namespace
}  // namespace atrous::op_cases
