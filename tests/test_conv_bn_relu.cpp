// The fused conv2d_bn_relu against conv2d -> batch_norm (Eval) -> [+ residual] -> relu in turn: values for every
// epilogue combination (tiles that see only padding, tiles staged and scattered, Winograd's tiles, f32 and f64,
// grouped fallbacks), gradients of x, weight, bias and residual, its errors; the layer helper conv_bn_relu and
// Sequential's fused runs (fused where the BN is absent or fixed: inference, frozen; the modules where it learns);
// add_relu's values and gradients.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "core/autograd.h"
#include "core/ops/batch_norm.h"
#include "core/ops/conv2d_bn_relu.h"
#include "core/ops/elementwise.h"
#include "core/ops/pooling.h"
#include "core/random.h"
#include "kernels/conv2d.h"
#include "layers/conv_bn_relu.h"
#include "layers/sequential.h"
#include "layers/simple_layers.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;

namespace {

struct Case {
  int64_t n, h, w, cin, cout, k;
  int stride, padding, dilation, groups;
  std::string str() const {
    return detail::concat("x[", n, ",", h, ",", w, ",", cin, "] ", cout, " out, ", k, "x", k, " stride ", stride,
                          " pad ", padding, " dilation ", dilation, " groups ", groups);
  }
};

// |a - b| <= tol * max(1, max |b|) everywhere, NaN never passing.
void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const auto x = a.to_double_vector(), y = b.to_double_vector();
  double scale = 1.0, worst = 0.0;
  for (double v : y) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::isnan(x[i] - y[i]) ? INFINITY : std::abs(x[i] - y[i]));
  EXPECT_LE(worst, tol * scale) << what;
}

// A batch norm whose statistics and affine are far from the identity, so that a missing or misplaced step shows.
RunningBatchNorm random_batch_norm(int64_t channels, bool affine, DType dtype, Generator& gen) {
  RunningBatchNorm bn;
  bn.running_mean = Tensor::uniform({channels}, -2.0, 2.0, gen, dtype);
  bn.running_var = Tensor::uniform({channels}, 0.1, 3.0, gen, dtype);
  if (affine) {
    bn.weight = Tensor::uniform({channels}, -1.5, 1.5, gen, dtype);
    bn.bias = Tensor::uniform({channels}, -1.0, 1.0, gen, dtype);
  }
  bn.eps = 1e-3;
  return bn;
}

Tensor in_turn(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, const RunningBatchNorm* bn,
               bool relu_after, const Tensor& residual = Tensor()) {
  Tensor y = conv2d(x, w, b, p);
  if (bn) {
    BatchNormParams params;
    params.mode = BatchNormMode::Eval;
    params.eps = bn->eps;
    y = batch_norm(y, bn->weight, bn->bias, bn->running_mean, bn->running_var, params);
  }
  if (residual.defined()) y = add(y, residual);
  return relu_after ? relu(y) : y;
}

void check_every_epilogue(const Case& c, DType dtype, uint64_t seed) {
  NoGradGuard no_grad;
  Generator gen(seed);
  const Conv2dParams p =
      Conv2dParams().with_stride(c.stride).with_padding(c.padding).with_dilation(c.dilation).with_groups(c.groups);
  const Tensor x = Tensor::uniform({c.n, c.h, c.w, c.cin}, -1.0, 1.0, gen, dtype);
  const Tensor w = Tensor::uniform({c.cout, c.k, c.k, c.cin / c.groups}, -1.0, 1.0, gen, dtype);
  const Tensor b = Tensor::uniform({c.cout}, -1.0, 1.0, gen, dtype);
  const RunningBatchNorm affine = random_batch_norm(c.cout, true, dtype, gen);
  const RunningBatchNorm plain = random_batch_norm(c.cout, false, dtype, gen);
  const Tensor y0 = conv2d(x, w, Tensor(), p);
  const Tensor shortcut = Tensor::uniform(y0.shape(), -2.0, 2.0, gen, dtype);
  // f32: the same arithmetic in the same order, but compiled in two places (multiply-adds may fuse differently).
  const double tol = dtype == DType::f64 ? 1e-12 : 1e-6;
  for (const Tensor& bias : {b, Tensor()}) {
    for (const RunningBatchNorm* bn : {&affine, &plain, static_cast<const RunningBatchNorm*>(nullptr)}) {
      for (const Tensor& residual : {Tensor(), shortcut}) {
        for (bool relu_after : {true, false}) {
          const std::string what = detail::concat(
              c.str(), bias.defined() ? ", bias" : ", no bias",
              bn == &affine ? ", affine BN" : bn ? ", BN without affine" : ", no BN",
              residual.defined() ? ", residual" : "", relu_after ? ", ReLU" : "", ", ", dtype_name(dtype));
          const Tensor fused = conv2d_bn_relu(x, w, bias, p, bn, relu_after, residual);
          expect_close(fused, in_turn(x, w, bias, p, bn, relu_after, residual), tol, what);
          if (relu_after) {
            const auto v = fused.to_double_vector();
            EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](double e) { return e >= 0.0; })) << what;
          }
        }
      }
    }
  }
}

}  // namespace

TEST(Conv2dBnRelu, FusedMatchesTheOpsInTurn) {
  check_every_epilogue({2, 9, 11, 5, 7, 3, 1, 1, 1, 1}, DType::f64, 1);
  check_every_epilogue({2, 9, 11, 5, 7, 3, 1, 1, 1, 1}, DType::f32, 2);
  check_every_epilogue({1, 13, 13, 4, 6, 3, 1, 12, 12, 1}, DType::f32, 3);  // border tiles see only padding
  check_every_epilogue({1, 17, 15, 3, 5, 3, 2, 1, 1, 1}, DType::f32, 4);    // strided
  check_every_epilogue({2, 12, 10, 8, 9, 1, 1, 0, 1, 1}, DType::f32, 5);    // pointwise: no im2col
  check_every_epilogue({1, 3, 2100, 2, 3, 3, 1, 1, 1, 1}, DType::f32, 6);   // rows cut in pieces: staged tiles
  const kernels::ConvAlgorithm algorithm = kernels::conv_algorithm();
  kernels::set_conv_algorithm(kernels::ConvAlgorithm::winograd);  // its output transform runs the epilogue
  check_every_epilogue({2, 9, 7, 16, 17, 3, 1, 2, 2, 1}, DType::f32, 10);  // tiles over the edge
  kernels::set_conv_algorithm(algorithm);
}

namespace {

// Gradients of x, w, bias and the residual through the fused op against the ops in turn (a frozen BN: its tensors
// constants), for a loss that weights every output differently.
void check_gradients(const Case& c, uint64_t seed) {
  Generator gen(seed);
  const Conv2dParams p =
      Conv2dParams().with_stride(c.stride).with_padding(c.padding).with_dilation(c.dilation).with_groups(c.groups);
  const Tensor x0 = Tensor::uniform({c.n, c.h, c.w, c.cin}, -1.0, 1.0, gen, DType::f64);
  const Tensor w0 = Tensor::uniform({c.cout, c.k, c.k, c.cin / c.groups}, -1.0, 1.0, gen, DType::f64);
  const Tensor b0 = Tensor::uniform({c.cout}, -1.0, 1.0, gen, DType::f64);
  const RunningBatchNorm bn = random_batch_norm(c.cout, true, DType::f64, gen);
  const Tensor out_shape = conv2d(x0, w0, Tensor(), p);
  const Tensor r0 = Tensor::uniform(out_shape.shape(), -2.0, 2.0, gen, DType::f64);
  const Tensor weights = Tensor::uniform(out_shape.shape(), -1.0, 1.0, gen, DType::f64);
  for (const RunningBatchNorm* norm : {&bn, static_cast<const RunningBatchNorm*>(nullptr)}) {
    for (bool with_residual : {true, false}) {
      for (bool relu_after : {true, false}) {
        const std::string what = detail::concat(c.str(), norm ? ", BN" : ", no BN", with_residual ? ", residual" : "",
                                                relu_after ? ", ReLU" : "");
        std::vector<Tensor> grads[2];
        for (int fused = 0; fused < 2; ++fused) {
          Tensor x = x0.detach().clone(), w = w0.detach().clone(), b = b0.detach().clone(), r = r0.detach().clone();
          for (Tensor* t : {&x, &w, &b, &r}) t->set_requires_grad(true);
          const Tensor residual = with_residual ? r : Tensor();
          const Tensor y = fused ? conv2d_bn_relu(x, w, b, p, norm, relu_after, residual)
                                 : in_turn(x, w, b, p, norm, relu_after, residual);
          EXPECT_EQ(y.requires_grad(), true) << what;
          sum(mul(y, weights)).backward();
          grads[fused] = {x.grad(), w.grad(), b.grad(), with_residual ? r.grad() : Tensor::zeros({1}, DType::f64)};
        }
        const char* names[] = {"dx", "dw", "dbias", "dresidual"};
        for (int i = 0; i < 4; ++i) expect_close(grads[1][i], grads[0][i], 1e-12, what + ", " + names[i]);
      }
    }
  }
}

}  // namespace

TEST(Conv2dBnRelu, GradientsMatchTheOpsInTurn) {
  check_gradients({2, 9, 11, 5, 7, 3, 1, 1, 1, 1}, 21);
  check_gradients({1, 13, 13, 4, 6, 3, 1, 12, 12, 1}, 22);  // border tiles see only padding
  check_gradients({1, 17, 15, 3, 5, 3, 2, 1, 1, 1}, 23);    // strided
  check_gradients({2, 12, 10, 8, 9, 1, 1, 0, 1, 1}, 24);    // pointwise
  check_gradients({1, 8, 9, 6, 4, 3, 1, 1, 1, 2}, 25);      // grouped: the ops in turn inside
}

TEST(Conv2dBnRelu, GroupedAndDepthwiseTakeTheOpsInTurn) {
  check_every_epilogue({1, 8, 9, 6, 4, 3, 1, 1, 1, 2}, DType::f32, 7);
  check_every_epilogue({1, 8, 9, 6, 6, 3, 1, 2, 2, 6}, DType::f32, 8);
}

TEST(Conv2dBnRelu, ErrorsNameTheOpAndWhatIsWrong) {
  Generator gen(9);
  const Tensor x = Tensor::uniform({1, 5, 5, 3}, -1.0, 1.0, gen);
  const Tensor w = Tensor::uniform({4, 3, 3, 3}, -1.0, 1.0, gen);
  RunningBatchNorm bn = random_batch_norm(4, true, DType::f32, gen);
  const Conv2dParams p = Conv2dParams().with_padding(1);
  {
    RunningBatchNorm learning = bn;
    learning.weight = bn.weight.detach().clone();
    learning.weight.set_requires_grad(true);
    expect_error([&] { conv2d_bn_relu(x, w, Tensor(), p, &learning, true); },
                 {"conv2d_bn_relu", "batch norm", "constants", "requires a gradient"});
    NoGradGuard no_grad;  // without grad mode nothing is recorded and the fused op runs
    expect_close(conv2d_bn_relu(x, w, Tensor(), p, &learning, true), in_turn(x, w, Tensor(), p, &bn, true), 1e-6,
                 "grad mode off");
  }
  RunningBatchNorm short_mean = bn;
  short_mean.running_mean = Tensor::zeros({3});
  expect_error([&] { conv2d_bn_relu(x, w, Tensor(), p, &short_mean, true); },
               {"conv2d_bn_relu", "running_mean", "[Cout] = [4]"});
  RunningBatchNorm no_var = bn;
  no_var.running_var = Tensor();
  expect_error([&] { conv2d_bn_relu(x, w, Tensor(), p, &no_var, false); }, {"conv2d_bn_relu", "running_var"});
  RunningBatchNorm bad_eps = bn;
  bad_eps.eps = -1.0;
  expect_error([&] { conv2d_bn_relu(x, w, Tensor(), p, &bad_eps, false); }, {"conv2d_bn_relu", "eps"});
  expect_error([&] { conv2d_bn_relu(Tensor::zeros({1, 5, 5, 2}), w, Tensor(), p, &bn, true); },
               {"conv2d_bn_relu", "input channels"});
  expect_error([&] { conv2d_bn_relu(x, w, Tensor(), p, &bn, true, Tensor::zeros({1, 5, 5, 3})); },
               {"conv2d_bn_relu", "residual", "[1,5,5,4]", "[1,5,5,3]"});
  expect_error([&] { conv2d_bn_relu(x, w, Tensor(), p, &bn, true, Tensor::zeros({1, 5, 5, 4}, DType::f64)); },
               {"conv2d_bn_relu", "residual"});
}

namespace {

// A conv and a BN whose running statistics and affine are not the identity.
struct ConvAndBn {
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};

ConvAndBn conv_and_bn(int cin, int cout, Generator& gen) {
  ConvAndBn m{std::make_shared<Conv2d>(Conv2dOptions(cin, cout, 3).with_same_padding().with_bias(false), gen),
              std::make_shared<BatchNorm2d>(BatchNorm2dOptions(cout))};
  atrous::testing::randomise_bn(*m.bn, gen);
  return m;
}

}  // namespace

TEST(ConvBnReluLayer, FusesWhereTheBatchNormIsFixedAndMatchesTheModules) {
  Generator gen(10);
  ConvAndBn m = conv_and_bn(3, 5, gen);
  const Tensor x = Tensor::uniform({2, 7, 6, 3}, -1.0, 1.0, gen);
  const auto by_modules = [&] { return relu(m.bn->forward(m.conv->forward(x))); };

  EXPECT_TRUE(conv_bn_relu_fuses(nullptr)) << "conv + ReLU alone";
  m.bn->train();  // batch statistics: never fused
  EXPECT_FALSE(conv_bn_relu_fuses(m.bn.get()));
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(conv_bn_relu_fuses(m.bn.get()));
  }
  m.bn->eval();
  EXPECT_FALSE(conv_bn_relu_fuses(m.bn.get())) << "the BN affine requires gradients";
  {
    NoGradGuard no_grad;
    ASSERT_TRUE(conv_bn_relu_fuses(m.bn.get()));
    const Tensor fused = conv_bn_relu(*m.conv, m.bn.get(), x, true);
    expect_close(fused, by_modules(), 1e-6, "eval, no grad");
    expect_close(conv_bn_relu(*m.conv, m.bn.get(), x, false), m.bn->forward(m.conv->forward(x)), 1e-6, "no ReLU");
    expect_close(conv_bn_relu(*m.conv, nullptr, x, true), relu(m.conv->forward(x)), 1e-6, "no BN");
    const Tensor shortcut = Tensor::uniform({2, 7, 6, 5}, -1.0, 1.0, gen);
    expect_close(conv_bn_relu(*m.conv, m.bn.get(), x, true, shortcut),
                 relu(add(m.bn->forward(m.conv->forward(x)), shortcut)), 1e-6, "a residual block's end");
  }
  // A frozen BN under grad mode (DeepLab v2's training): fused, and the gradients are the modules'.
  m.bn->set_frozen(true);
  EXPECT_TRUE(conv_bn_relu_fuses(m.bn.get()));
  Tensor x_grad = x.detach().clone();
  x_grad.set_requires_grad(true);
  sum(conv_bn_relu(*m.conv, m.bn.get(), x_grad, true)).backward();
  const Tensor fused_dx = x_grad.grad().clone(), fused_dw = m.conv->weight().grad().clone();
  x_grad.zero_grad();
  m.conv->weight().zero_grad();
  sum(relu(m.bn->forward(m.conv->forward(x_grad)))).backward();
  expect_close(fused_dx, x_grad.grad(), 1e-6, "dx through a frozen BN");
  expect_close(fused_dw, m.conv->weight().grad(), 1e-6, "dw through a frozen BN");
  EXPECT_FALSE(m.bn->running().weight.grad().defined());
}

TEST(ConvBnReluLayer, TrainingStepsKeepTheirGradients) {
  Generator gen(11);
  ConvAndBn m = conv_and_bn(2, 3, gen);
  m.bn->train();
  const Tensor x = Tensor::uniform({2, 5, 5, 2}, -1.0, 1.0, gen);
  sum(conv_bn_relu(*m.conv, m.bn.get(), x, true)).backward();
  const Tensor helper_grad = m.conv->weight().grad().clone();
  m.conv->weight().zero_grad();
  sum(relu(m.bn->forward(m.conv->forward(x)))).backward();
  expect_close(helper_grad, m.conv->weight().grad(), 1e-6, "conv weight gradient in training");
  // With a shortcut that needs a gradient: add_relu in turn, its gradient reaching the shortcut.
  Tensor shortcut = Tensor::uniform({2, 5, 5, 3}, -1.0, 1.0, gen);
  shortcut.set_requires_grad(true);
  const Tensor y = conv_bn_relu(*m.conv, m.bn.get(), x, true, shortcut);
  sum(y).backward();
  const auto dy = shortcut.grad().to_double_vector(), out = y.to_double_vector();
  for (size_t i = 0; i < dy.size(); ++i) EXPECT_EQ(dy[i], out[i] > 0.0 ? 1.0 : 0.0) << "shortcut gradient at " << i;
}

TEST(SequentialFusion, ConvBnReluRunsMatchChildByChild) {
  Generator gen(12);
  ConvAndBn a = conv_and_bn(3, 4, gen);
  auto seq = std::make_shared<Sequential>();
  seq->add(a.conv);
  seq->add(a.bn);
  seq->add(std::make_shared<ReLU>());
  seq->add(std::make_shared<Conv2d>(Conv2dOptions(4, 4, 3).with_same_padding(), gen));  // conv + ReLU, no BN
  seq->add(std::make_shared<ReLU>());
  seq->add(std::make_shared<MaxPool2d>(Pool2dParams().with_kernel(2).with_stride(2)));
  seq->add(std::make_shared<Conv2d>(Conv2dOptions(4, 2, 1), gen));  // a conv alone at the end
  seq->eval();
  const Tensor x = Tensor::uniform({1, 8, 8, 3}, -1.0, 1.0, gen);
  NoGradGuard no_grad;
  Tensor expected = x;
  for (const auto& [name, child] : seq->children()) expected = child->forward(expected);
  expect_close(seq->forward(x), expected, 1e-6, "Sequential in eval mode");
}

TEST(AddRelu, MatchesReluOfAddWithGradients) {
  Generator gen(13);
  const Tensor a = Tensor::uniform({2, 3, 4, 5}, -1.0, 1.0, gen), b = Tensor::uniform({2, 3, 4, 5}, -1.0, 1.0, gen);
  EXPECT_TRUE(atrous::testing::same_bits(add_relu(a, b), relu(add(a, b))));
  expect_error([&] { add_relu(a, Tensor::zeros({2, 3, 4, 4})); }, {"add_relu", "same shape"});
}
