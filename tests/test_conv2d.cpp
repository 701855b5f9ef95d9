// conv2d: forward and backward against naive loops (stride, padding, dilation 1/2/4/12, odd sizes, batches, the
// 1x1 path, no bias), only the requested gradients, the output-size formula and argument errors. Finite
// differences and CUDA run from the op case table (tests/op_cases/conv2d.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "core/autograd.h"
#include "core/ops/conv2d.h"
#include "core/random.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_winograd.h"
#include "kernels/gemm.h"
#include "op_cases/conv_shapes.h"
#include "support/gradcheck.h"

using namespace atrous;
using atrous::testing::expect_gradients_match;
using atrous::testing::random_input;

namespace {

struct Case {
  int64_t n, h, w, cin, cout, kh, kw;
  int stride, padding, dilation;
  bool bias = true;

  Conv2dParams params() const { return Conv2dParams().with_stride(stride).with_padding(padding).with_dilation(dilation); }
  int64_t oh() const { return conv2d_output_size(h, kh, params()); }
  int64_t ow() const { return conv2d_output_size(w, kw, params()); }
  std::string str() const {
    return detail::concat("x[", n, ",", h, ",", w, ",", cin, "] w[", cout, ",", kh, ",", kw, ",", cin, "] stride ", stride,
                          " pad ", padding, " dilation ", dilation, bias ? "" : " no bias");
  }
};

// The definition, seven loops deep: y[n,oy,ox,co] = b[co] + sum x[n, oy*s-p+kh*d, ox*s-p+kw*d, ci] w[co,kh,kw,ci].
std::vector<double> naive_forward(const Case& c, const std::vector<double>& x, const std::vector<double>& w,
                                  const std::vector<double>& b) {
  std::vector<double> y(c.n * c.oh() * c.ow() * c.cout);
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t oy = 0; oy < c.oh(); ++oy)
      for (int64_t ox = 0; ox < c.ow(); ++ox)
        for (int64_t co = 0; co < c.cout; ++co) {
          double acc = b.empty() ? 0.0 : b[co];
          for (int64_t kh = 0; kh < c.kh; ++kh)
            for (int64_t kw = 0; kw < c.kw; ++kw)
              for (int64_t ci = 0; ci < c.cin; ++ci) {
                const int64_t iy = oy * c.stride - c.padding + kh * c.dilation;
                const int64_t ix = ox * c.stride - c.padding + kw * c.dilation;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                acc += x[((n * c.h + iy) * c.w + ix) * c.cin + ci] * w[((co * c.kh + kh) * c.kw + kw) * c.cin + ci];
              }
          y[((n * c.oh() + oy) * c.ow() + ox) * c.cout + co] = acc;
        }
  return y;
}

// The same loops transposed: scatter dy into dx, dw and db.
struct NaiveGrads {
  std::vector<double> dx, dw, db;
};
NaiveGrads naive_backward(const Case& c, const std::vector<double>& x, const std::vector<double>& w,
                          const std::vector<double>& dy) {
  NaiveGrads g{std::vector<double>(x.size()), std::vector<double>(w.size()), std::vector<double>(c.cout)};
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t oy = 0; oy < c.oh(); ++oy)
      for (int64_t ox = 0; ox < c.ow(); ++ox)
        for (int64_t co = 0; co < c.cout; ++co) {
          const double d = dy[((n * c.oh() + oy) * c.ow() + ox) * c.cout + co];
          g.db[co] += d;
          for (int64_t kh = 0; kh < c.kh; ++kh)
            for (int64_t kw = 0; kw < c.kw; ++kw) {
              const int64_t iy = oy * c.stride - c.padding + kh * c.dilation;
              const int64_t ix = ox * c.stride - c.padding + kw * c.dilation;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              for (int64_t ci = 0; ci < c.cin; ++ci) {
                const int64_t xi = ((n * c.h + iy) * c.w + ix) * c.cin + ci;
                const int64_t wi = ((co * c.kh + kh) * c.kw + kw) * c.cin + ci;
                g.dx[xi] += d * w[wi];
                g.dw[wi] += d * x[xi];
              }
            }
        }
  return g;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) > tol * (1.0 + std::abs(want[i])) && ++bad <= 5)
      ADD_FAILURE() << what << " element " << i << ": got " << got[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

// Runs forward and backward through the op in `dtype` and compares everything with the naive loops.
void check_against_naive(const Case& c, DType dtype, uint64_t seed) {
  SCOPED_TRACE(c.str() + " " + dtype_name(dtype));
  Generator gen(seed);
  Tensor x = Tensor::uniform({c.n, c.h, c.w, c.cin}, -1, 1, gen, dtype).set_requires_grad(true);
  Tensor w = Tensor::uniform({c.cout, c.kh, c.kw, c.cin}, -1, 1, gen, dtype).set_requires_grad(true);
  Tensor b = c.bias ? Tensor::uniform({c.cout}, -1, 1, gen, dtype).set_requires_grad(true) : Tensor();
  Tensor dy = Tensor::uniform({c.n, c.oh(), c.ow(), c.cout}, -1, 1, gen, dtype);
  Tensor y = conv2d(x, w, b, c.params());
  ASSERT_EQ(y.shape(), (Shape{c.n, c.oh(), c.ow(), c.cout}));
  const std::vector<double> xv = x.to_double_vector(), wv = w.to_double_vector();
  const double tol = dtype == DType::f64 ? 1e-11 : 2e-5 * std::sqrt(double(c.kh * c.kw * c.cin));
  expect_close(y.to_double_vector(), naive_forward(c, xv, wv, c.bias ? b.to_double_vector() : std::vector<double>{}),
               tol, "forward");
  y.backward(dy);
  const NaiveGrads g = naive_backward(c, xv, wv, dy.to_double_vector());
  const double grad_tol = dtype == DType::f64 ? 1e-11 : 2e-5 * std::sqrt(double(c.n * c.oh() * c.ow() * c.cout));
  expect_close(x.grad().to_double_vector(), g.dx, grad_tol, "dx");
  expect_close(w.grad().to_double_vector(), g.dw, grad_tol, "dw");
  if (c.bias) expect_close(b.grad().to_double_vector(), g.db, grad_tol, "db");
}

// Small cases exercising every path: pointwise (no im2col), stride 1 (backward-data as a transposed forward) and
// stride > 1 (col2im gather), dilation up to 12, padding 0/1/"same"/excess, odd and non-square sizes.
const std::vector<Case>& naive_cases() {
  static const std::vector<Case> cases = {
      {1, 5, 5, 1, 1, 3, 3, 1, 0, 1},       {2, 7, 9, 3, 4, 3, 3, 1, 1, 1},       {2, 7, 9, 3, 4, 3, 3, 2, 1, 1},
      {1, 13, 13, 2, 3, 3, 3, 1, 12, 12},   {1, 13, 11, 2, 3, 3, 3, 1, 4, 4},     {3, 9, 8, 5, 2, 3, 3, 1, 2, 2},
      {1, 15, 15, 3, 2, 3, 3, 2, 4, 4},     {2, 6, 5, 4, 3, 1, 1, 1, 0, 1},       {2, 6, 5, 4, 3, 1, 1, 2, 0, 1},
      {1, 6, 6, 3, 2, 1, 1, 1, 1, 1},       {1, 11, 10, 3, 5, 7, 7, 2, 3, 1},     {1, 8, 9, 2, 3, 1, 3, 1, 1, 2},
      {2, 10, 7, 3, 2, 5, 5, 3, 2, 1},      {1, 5, 5, 2, 2, 3, 3, 1, 5, 1},       {1, 9, 9, 2, 3, 3, 3, 2, 0, 2, false},
      {1, 4, 4, 1, 2, 4, 4, 1, 0, 1},       {1, 5, 7, 3, 3, 2, 2, 2, 0, 1, false}, {2, 12, 12, 16, 8, 3, 3, 1, 1, 1},
      // 256 output channels: backward-data multiplies tap by tap instead of flipping a copy of the weights.
      {2, 7, 6, 3, 256, 3, 3, 1, 2, 2},     {1, 5, 6, 2, 256, 1, 1, 1, 0, 1},
  };
  return cases;
}

}  // namespace

TEST(Conv2d, OutputSizeFormula) {
  EXPECT_EQ(conv2d_output_size(65, 3, Conv2dParams().with_padding(12).with_dilation(12)), 65);  // "same" atrous
  EXPECT_EQ(conv2d_output_size(321, 3, Conv2dParams().with_padding(1).with_stride(2)), 161);
  EXPECT_EQ(conv2d_output_size(224, 7, Conv2dParams().with_padding(3).with_stride(2)), 112);
  EXPECT_EQ(conv2d_output_size(10, 3, Conv2dParams().with_dilation(2)), 6);  // 10 - 2*2
  EXPECT_EQ(conv2d_output_size(8, 3, Conv2dParams().with_stride(3)), 2);     // floor(5/3) + 1
  EXPECT_EQ(conv2d_output_size(5, 5, {}), 1);
  EXPECT_EQ(conv2d_output_size(4, 5, {}), 0);                                 // kernel wider than the input
  EXPECT_EQ(conv2d_output_size(13, 3, Conv2dParams().with_dilation(12)), 0);  // dilated span 25 > 13
}

TEST(Conv2d, ForwardAndBackwardMatchNaiveLoopsF64) {
  uint64_t seed = 1;
  for (const Case& c : naive_cases()) check_against_naive(c, DType::f64, seed++);
}

TEST(Conv2d, ForwardAndBackwardMatchNaiveLoopsF32) {
  uint64_t seed = 100;
  for (const Case& c : naive_cases()) check_against_naive(c, DType::f32, seed++);
}

// Enough pixels for several tiles per thread, tiles ending mid-row and mid-image, batches, odd tile shapes.
TEST(Conv2d, ManyTilesMatchNaiveLoops) {
  check_against_naive({3, 61, 59, 3, 4, 3, 3, 1, 2, 2}, DType::f64, 7);  // 10797 pixels, stride-1 paths
  check_against_naive({3, 121, 117, 3, 4, 3, 3, 2, 1, 1}, DType::f64, 8);  // 10797 pixels, strided col2im path
  check_against_naive({2, 90, 70, 4, 3, 1, 1, 1, 0, 1}, DType::f64, 9);  // pointwise
  // Patch 576 wide: the weight gradient's im2col no longer fits one buffer and accumulates over pixel tiles.
  check_against_naive({1, 90, 90, 64, 2, 3, 3, 1, 1, 1}, DType::f64, 10);
  // Rows wider than a tile are cut into pieces.
  check_against_naive({2, 3, 2100, 1, 2, 3, 3, 1, 1, 1}, DType::f64, 11);
  // A 66-row kernel whose edge columns lose a tap: more kernel-row pieces than the weight gradient takes at once.
  check_against_naive({1, 70, 3, 1, 1, 66, 3, 1, 1, 1}, DType::f64, 12);
}

// Winograd F(2x2, 3x3), which the float forward (and the stride-1 backward-data, a forward on flipped weights) takes
// for 3x3 stride-1 convolutions with >= 16 channels in and out: against the naive loops (and the im2col path) for
// dilations 1-12, paddings 0, 1, "same" and beyond, odd sizes whose last tiles hang over the edge, channel counts off
// the vector width, batches, and more tiles than one block.
TEST(Conv2d, WinogradMatchesNaiveLoopsAndIm2col) {
  const std::vector<Case> cases = {
      {1, 8, 8, 16, 16, 3, 3, 1, 1, 1},     {2, 9, 7, 17, 19, 3, 3, 1, 0, 1},   {1, 13, 11, 16, 33, 3, 3, 1, 2, 2},
      {1, 41, 41, 24, 20, 3, 3, 1, 12, 12}, {2, 15, 10, 16, 16, 3, 3, 1, 4, 4}, {1, 6, 5, 16, 16, 3, 3, 1, 3, 1},
      {1, 5, 5, 16, 16, 3, 3, 1, 5, 2, false}, {2, 33, 29, 32, 48, 3, 3, 1, 1, 1},
  };
  ASSERT_EQ(kernels::conv_algorithm(), kernels::ConvAlgorithm::automatic);
  kernels::set_conv_algorithm(kernels::ConvAlgorithm::winograd);  // even where im2col would do less work
  const kernels::GemmBackend saved_backend = kernels::gemm_backend();
  uint64_t seed = 300;
  // Eigen's backend does not pack the transformed weights: its products read them unpacked.
  for (kernels::GemmBackend backend : {kernels::GemmBackend::eigen, saved_backend}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.str() + " " + kernels::gemm_backend_name(backend));
      kernels::set_gemm_backend(backend);
      Generator gen(seed++);
      Tensor x = Tensor::uniform({c.n, c.h, c.w, c.cin}, -1, 1, gen).set_requires_grad(true);
      const Tensor w = Tensor::uniform({c.cout, c.kh, c.kw, c.cin}, -1, 1, gen);
      const Tensor b = c.bias ? Tensor::uniform({c.cout}, -1, 1, gen) : Tensor();
      const Tensor dy = Tensor::uniform({c.n, c.oh(), c.ow(), c.cout}, -1, 1, gen);
      Tensor y = conv2d(x, w, b, c.params());
      y.backward(dy);
      kernels::set_conv_algorithm(kernels::ConvAlgorithm::im2col);
      const Tensor y_im2col = conv2d(x.detach(), w, b, c.params());
      kernels::set_conv_algorithm(kernels::ConvAlgorithm::winograd);
      const std::vector<double> xv = x.to_double_vector(), wv = w.to_double_vector();
      const std::vector<double> want = naive_forward(c, xv, wv, c.bias ? b.to_double_vector() : std::vector<double>{});
      const double tol = 2e-5 * std::sqrt(double(c.kh * c.kw * c.cin));
      expect_close(y.to_double_vector(), want, tol, "winograd forward");
      expect_close(y.to_double_vector(), y_im2col.to_double_vector(), tol, "winograd against im2col");
      const double grad_tol = 2e-5 * std::sqrt(double(c.kh * c.kw * c.cout));
      expect_close(x.grad().to_double_vector(), naive_backward(c, xv, wv, dy.to_double_vector()).dx, grad_tol, "dx");
    }
  }
  kernels::set_gemm_backend(saved_backend);
  kernels::set_conv_algorithm(kernels::ConvAlgorithm::automatic);
}

TEST(Conv2d, AlgorithmIsAutomaticUnlessTheEnvironmentSaysOtherwise) {
  const char* forced = std::getenv("ATROUS_CONV");
  if (forced && *forced) GTEST_SKIP() << "ATROUS_CONV=" << forced << " chooses";
  EXPECT_EQ(kernels::conv_algorithm(), kernels::ConvAlgorithm::automatic);
}

// automatic takes Winograd where it does less work than im2col: VGG's and ResNet's 3x3 layers, DeepLab-v2's ASPP at
// rate 6 but not at rates 12-24 (41x41, 2048 -> 21 channels), where most taps fall in the padding that im2col skips;
// not LargeFOV's fc6 (rate 12 at 41x41, 512 -> 1024), whose 34 MB of transformed weights every block of tiles reads
// from memory; never below 16 channels, a stride or another kernel size.
TEST(Conv2d, AutomaticAlgorithmPicksWinogradWhereItPays) {
  const auto shape = [](int64_t size, int64_t cin, int64_t cout, int64_t dilation, int64_t k = 3, int64_t stride = 1) {
    kernels::Conv2dShape s;
    s.n = 1, s.h = s.w = size, s.cin = cin, s.cout = cout, s.kh = s.kw = k, s.stride = stride;
    s.pad_h = s.pad_w = dilation * (k / 2), s.dilation = dilation;
    s.oh = s.ow = (size + 2 * s.pad_h - dilation * (k - 1) - 1) / stride + 1;
    return s;
  };
  using kernels::conv2d_detail::uses_winograd;
  ASSERT_EQ(kernels::conv_algorithm(), kernels::ConvAlgorithm::automatic);
  EXPECT_TRUE(uses_winograd<float>(shape(321, 64, 64, 1)));
  EXPECT_TRUE(uses_winograd<float>(shape(41, 512, 512, 2)));
  EXPECT_FALSE(uses_winograd<float>(shape(41, 512, 1024, 12)));
  EXPECT_TRUE(uses_winograd<float>(shape(41, 2048, 21, 6)));
  for (int64_t rate : {12, 18, 24}) EXPECT_FALSE(uses_winograd<float>(shape(41, 2048, 21, rate))) << rate;
  EXPECT_FALSE(uses_winograd<float>(shape(321, 3, 64, 1)));
  EXPECT_FALSE(uses_winograd<float>(shape(321, 64, 8, 1)));
  EXPECT_FALSE(uses_winograd<float>(shape(321, 64, 64, 1, 3, 2)));
  EXPECT_FALSE(uses_winograd<float>(shape(65, 64, 64, 1, 5)));
  EXPECT_FALSE(uses_winograd<double>(shape(41, 512, 512, 1)));
  kernels::set_conv_algorithm(kernels::ConvAlgorithm::im2col);
  EXPECT_FALSE(uses_winograd<float>(shape(41, 512, 512, 1)));
  kernels::set_conv_algorithm(kernels::ConvAlgorithm::winograd);
  EXPECT_TRUE(uses_winograd<float>(shape(41, 2048, 21, 24)));
  kernels::set_conv_algorithm(kernels::ConvAlgorithm::automatic);
}

TEST(Conv2d, OnlyTheRequestedGradientsAreComputed) {
  Tensor x = random_input({1, 5, 5, 2}, 31, /*requires_grad=*/false);
  Tensor w = random_input({3, 3, 3, 2}, 32);
  Tensor y = conv2d(x, w, Tensor(), Conv2dParams().with_padding(1));
  ASSERT_TRUE(y.requires_grad());
  y.backward(Tensor::ones(y.shape(), DType::f64));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(w.grad().defined());

  // A frozen layer: only x needs a gradient (and only w is saved for it).
  Tensor x2 = random_input({1, 5, 5, 2}, 40);
  Tensor w2 = random_input({3, 3, 3, 2}, 41, /*requires_grad=*/false);
  expect_gradients_match([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor()); }, {x2, w2});
  EXPECT_FALSE(w2.grad().defined());
}

TEST(Conv2d, NoGradRecordsNothing) {
  Tensor x = random_input({1, 5, 5, 2}, 33);
  Tensor w = random_input({3, 3, 3, 2}, 34);
  NoGradGuard guard;
  Tensor y = conv2d(x, w, Tensor());
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(Conv2d, NonContiguousInputs) {
  Generator gen(35);
  Tensor x_nchw = Tensor::uniform({2, 3, 6, 7}, -1, 1, gen, DType::f64);
  Tensor x = x_nchw.permute({0, 2, 3, 1});  // an NHWC view with channel stride H*W
  ASSERT_FALSE(x.is_contiguous());
  Tensor w = Tensor::uniform({4, 3, 3, 3}, -1, 1, gen, DType::f64);
  const Conv2dParams p = Conv2dParams().with_padding(2).with_dilation(2);
  expect_close(conv2d(x, w, Tensor(), p).to_double_vector(), conv2d(x.contiguous(), w, Tensor(), p).to_double_vector(),
               1e-12, "strided vs contiguous");
}

// The benchmark's DeepLab shapes in f32, spot-checked at random output elements against the definition.
TEST(Conv2d, DeepLabSuiteSpotCheck) {
  for (const conv_shapes::ConvCase& c : conv_shapes::deeplab_suite()) {
    SCOPED_TRACE(c.name);
    Generator gen(36);
    Tensor x = Tensor::uniform({c.n, c.h, c.w, c.cin}, -1, 1, gen);
    Tensor w = Tensor::uniform({c.cout, c.kernel, c.kernel, c.cin}, -1, 1, gen);
    Tensor b = Tensor::uniform({c.cout}, -1, 1, gen);
    Tensor y = conv2d(x, w, b, c.params());
    ASSERT_EQ(y.shape(), (Shape{c.n, c.out_h(), c.out_w(), c.cout}));
    const float* xp = x.data<float>();
    const float* wp = w.data<float>();
    const float* yp = y.data<float>();
    const int64_t oh = c.out_h(), ow = c.out_w(), k = c.kernel;
    for (int probe = 0; probe < 200; ++probe) {
      const int64_t i = std::min<int64_t>(y.numel() - 1, int64_t(gen.next_uniform() * double(y.numel())));
      const int64_t co = i % c.cout, ox = (i / c.cout) % ow, oy = (i / c.cout / ow) % oh, n = i / c.cout / ow / oh;
      double want = b.data<float>()[co];
      for (int64_t kh = 0; kh < k; ++kh)
        for (int64_t kw = 0; kw < k; ++kw) {
          const int64_t iy = oy * c.stride - c.padding + kh * c.dilation, ix = ox * c.stride - c.padding + kw * c.dilation;
          if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
          for (int64_t ci = 0; ci < c.cin; ++ci)
            want += double(xp[((n * c.h + iy) * c.w + ix) * c.cin + ci]) * wp[((co * k + kh) * k + kw) * c.cin + ci];
        }
      ASSERT_NEAR(yp[i], want, 1e-3 * (1 + std::abs(want))) << "output element " << i;
    }
  }
}

namespace {

// Expects conv2d(args) to throw atrous::Error whose message names conv2d and contains `fragment`.
template <typename Fn>
void expect_conv_error(Fn fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected an atrous::Error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("conv2d"), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

}  // namespace

TEST(Conv2d, ArgumentErrors) {
  const Tensor x = Tensor::zeros({1, 5, 5, 3}), w = Tensor::zeros({4, 3, 3, 3}), b = Tensor::zeros({4});
  expect_conv_error([&] { conv2d(Tensor::zeros({5, 5, 3}), w, b); }, "4-D");
  expect_conv_error([&] { conv2d(x, Tensor::zeros({4, 3, 3}), b); }, "4-D");
  expect_conv_error([&] { conv2d(x, Tensor::zeros({4, 3, 3, 2}), b); }, "Cin");
  expect_conv_error([&] { conv2d(x, w, Tensor::zeros({5})); }, "bias");
  expect_conv_error([&] { conv2d(x, w, Tensor::zeros({4, 1})); }, "bias");
  expect_conv_error([&] { conv2d(Tensor::zeros({1, 5, 5, 3}, DType::i32), w, b); }, "f32 or f64");
  expect_conv_error([&] { conv2d(x, Tensor::zeros({4, 3, 3, 3}, DType::u8), b); }, "f32 or f64");
  expect_conv_error([&] { conv2d(x, Tensor::zeros({4, 3, 3, 3}, DType::f64), b); }, "same dtype");
  expect_conv_error([&] { conv2d(x, w, Tensor::zeros({4}, DType::f64)); }, "same dtype");
  expect_conv_error([&] { conv2d(x, w, b, Conv2dParams().with_stride(0)); }, "stride");
  expect_conv_error([&] { conv2d(x, w, b, Conv2dParams().with_dilation(0)); }, "dilation");
  expect_conv_error([&] { conv2d(x, w, b, Conv2dParams().with_padding(-1)); }, "padding");
  expect_conv_error([&] { conv2d(x, Tensor::zeros({4, 7, 7, 3}), b); }, "does not fit");
  expect_conv_error([&] { conv2d(x, w, b, Conv2dParams().with_dilation(3)); }, "does not fit");  // span 7 > 5
  expect_conv_error([&] { conv2d(Tensor(), w, b); }, "undefined");
}
