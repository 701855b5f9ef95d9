// Bilinear resize: hand-computed cases for both corner conventions, a naive reference on odd sizes, the scale-mode
// size rule, the backward as the forward's adjoint, and argument errors. Finite differences and CUDA run from the
// op case table (tests/op_cases/resize.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/resize.h"
#include "core/random.h"
#include "support/gradcheck.h"

using namespace atrous;
using atrous::testing::random_input;

namespace {

// Straight from the definition: per output pixel, find the source coordinate along each axis and blend.
std::vector<double> naive_resize(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  const int64_t N = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const std::vector<double> in = x.to_double_vector();
  auto source = [&](int64_t dst, int64_t n_in, int64_t n_out) {
    if (align_corners) return n_out == 1 ? 0.0 : dst * double(n_in - 1) / double(n_out - 1);
    return std::max(0.0, (dst + 0.5) * double(n_in) / double(n_out) - 0.5);
  };
  auto at = [&](int64_t n, int64_t h, int64_t w, int64_t c) { return in[((n * H + h) * W + w) * C + c]; };
  std::vector<double> out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oy = 0; oy < out_h; ++oy)
      for (int64_t ox = 0; ox < out_w; ++ox)
        for (int64_t c = 0; c < C; ++c) {
          const double sy = source(oy, H, out_h), sx = source(ox, W, out_w);
          const int64_t y0 = std::min<int64_t>(int64_t(std::floor(sy)), H - 1), y1 = std::min<int64_t>(y0 + 1, H - 1);
          const int64_t x0 = std::min<int64_t>(int64_t(std::floor(sx)), W - 1), x1 = std::min<int64_t>(x0 + 1, W - 1);
          const double ly = sy - y0, lx = sx - x0;
          out.push_back((1 - ly) * ((1 - lx) * at(n, y0, x0, c) + lx * at(n, y0, x1, c)) +
                        ly * ((1 - lx) * at(n, y1, x0, c) + lx * at(n, y1, x1, c)));
        }
  return out;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "element " << i;
}

Tensor image(const std::vector<double>& values, int64_t h, int64_t w, int64_t c = 1) {
  return Tensor::from_vector<double>(values, {1, h, w, c});
}

}  // namespace

TEST(Resize, AlignCornersUpsampleGivesMidpoints) {
  // 2x2 -> 3x3 with corners aligned: the new pixels sit exactly between the old ones.
  Tensor x = image({1, 3, 5, 11}, 2, 2);
  Tensor y = resize_bilinear(x, ResizeParams::to_size(3, 3, true));
  EXPECT_EQ(y.shape(), (Shape{1, 3, 3, 1}));
  expect_near_all(y.to_double_vector(), {1, 2, 3, 3, 5, 7, 5, 8, 11}, 1e-12);
}

TEST(Resize, AlignCornersKeepsChannelsSeparate) {
  Tensor x = image({1, 10, 3, 30, 5, 50, 11, 110}, 2, 2, 2);
  Tensor y = resize_bilinear(x, ResizeParams::to_size(3, 3, true));
  expect_near_all(y.to_double_vector(), {1, 10, 2, 20, 3, 30, 3, 30, 5, 50, 7, 70, 5, 50, 8, 80, 11, 110}, 1e-12);
}

TEST(Resize, HalfPixelUpsampleClampsAtBorders) {
  // 2 -> 4 without corner alignment samples at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (upper neighbour clamped).
  Tensor x = image({0, 4, 8, 12}, 2, 2);
  Tensor y = resize_bilinear(x, ResizeParams::to_size(4, 4, false));
  expect_near_all(y.to_double_vector(), {0, 1, 3, 4, 2, 3, 5, 6, 6, 7, 9, 10, 8, 9, 11, 12}, 1e-12);
}

TEST(Resize, HalfPixelDownsampleAveragesNeighbours) {
  // 4 -> 2 samples at 0.5 and 2.5; x = 4h + w is linear, so the result is 4 sy + sx.
  std::vector<double> values(16);
  for (int i = 0; i < 16; ++i) values[i] = i;
  Tensor y = resize_bilinear(image(values, 4, 4), ResizeParams::to_size(2, 2, false));
  expect_near_all(y.to_double_vector(), {2.5, 4.5, 10.5, 12.5}, 1e-12);
}

TEST(Resize, AlignCornersDownsamplePicksPixels) {
  // Caffe's Interp shrink: 5 -> 3 with corners aligned samples rows and columns 0, 2, 4 exactly.
  std::vector<double> values(25);
  for (int i = 0; i < 25; ++i) values[i] = i;
  Tensor y = resize_bilinear(image(values, 5, 5), ResizeParams::to_size(3, 3, true));
  expect_near_all(y.to_double_vector(), {0, 2, 4, 10, 12, 14, 20, 22, 24}, 1e-12);
}

TEST(Resize, SinglePixelOutput) {
  Tensor x = image({1, 2, 3, 4, 5, 6, 7, 8}, 2, 4);
  // align_corners with out == 1 samples index 0; half-pixel samples the centre.
  expect_near_all(resize_bilinear(x, ResizeParams::to_size(1, 1, true)).to_double_vector(), {1}, 1e-12);
  expect_near_all(resize_bilinear(x, ResizeParams::to_size(1, 1, false)).to_double_vector(), {4.5}, 1e-12);
}

TEST(Resize, EqualSizesAreTheIdentity) {
  Tensor x = random_input({2, 5, 7, 3}, 11, false);
  for (bool ac : {true, false}) {
    Tensor y = resize_bilinear(x, ResizeParams::to_size(5, 7, ac));
    EXPECT_EQ(y.to_double_vector(), x.to_double_vector()) << "align_corners=" << ac;
  }
}

TEST(Resize, MatchesNaiveReferenceOnOddSizes) {
  struct Case {
    Shape in;
    int64_t out_h, out_w;
  };
  const std::vector<Case> cases = {{{2, 5, 7, 3}, 13, 9}, {{2, 9, 11, 4}, 4, 6}, {{1, 6, 5, 2}, 17, 3},
                                   {{1, 13, 13, 1}, 3, 2}, {{1, 1, 1, 5}, 4, 3},  {{1, 3, 4, 21}, 100, 33},
                                   {{1, 100, 9, 2}, 64, 31},
                                   // Large enough to run on several threads, with images split between them.
                                   {{3, 9, 11, 8}, 60, 70}, {{2, 50, 40, 4}, 33, 27}};
  for (const Case& c : cases) {
    Tensor x = random_input(c.in, 3, false);
    for (bool ac : {true, false}) {
      SCOPED_TRACE(shape_str(c.in) + " -> " + std::to_string(c.out_h) + "x" + std::to_string(c.out_w) +
                   " align_corners=" + std::to_string(ac));
      Tensor y = resize_bilinear(x, ResizeParams::to_size(c.out_h, c.out_w, ac));
      EXPECT_EQ(y.shape(), (Shape{c.in[0], c.out_h, c.out_w, c.in[3]}));
      expect_near_all(y.to_double_vector(), naive_resize(x, c.out_h, c.out_w, ac), 1e-12);
      // f32 runs the same kernel template; it agrees to rounding.
      Tensor y32 = resize_bilinear(x.to(DType::f32), ResizeParams::to_size(c.out_h, c.out_w, ac));
      expect_near_all(y32.to_double_vector(), y.to_double_vector(), 1e-5);
    }
  }
}

TEST(Resize, EmptyBatchOrChannels) {
  for (const Shape& shape : {Shape{0, 4, 5, 3}, Shape{2, 4, 5, 0}}) {
    Tensor x = Tensor::zeros(shape, DType::f64).set_requires_grad(true);
    Tensor y = resize_bilinear(x, ResizeParams::to_size(7, 3, false));
    EXPECT_EQ(y.shape(), (Shape{shape[0], 7, 3, shape[3]}));
    y.backward(Tensor::zeros(y.shape(), DType::f64));
    EXPECT_EQ(x.grad().shape(), shape);
  }
}

TEST(Resize, ScaleModeFloorsTheSizeAndUsesSizeRatios) {
  using Size = std::pair<int64_t, int64_t>;
  EXPECT_EQ(resize_output_size(65, 65, ResizeParams::by_scale(0.5, true)), Size(32, 32));
  EXPECT_EQ(resize_output_size(513, 513, ResizeParams::by_scale(0.75, false)), Size(384, 384));
  EXPECT_EQ(resize_output_size(65, 41, ResizeParams::by_scale(8, true)), Size(520, 328));
  EXPECT_EQ(resize_output_size(7, 9, ResizeParams::to_size(3, 4, true)), Size(3, 4));
  Tensor x = random_input({1, 9, 11, 2}, 5, false);
  for (bool ac : {true, false}) {
    Tensor by_scale = resize_bilinear(x, ResizeParams::by_scale(0.5, ac));
    Tensor by_size = resize_bilinear(x, ResizeParams::to_size(4, 5, ac));
    EXPECT_EQ(by_scale.shape(), (Shape{1, 4, 5, 2}));
    EXPECT_EQ(by_scale.to_double_vector(), by_size.to_double_vector());
  }
}

TEST(Resize, BackwardIsTheAdjointAtBenchmarkSizes) {
  // <resize(x), g> == <x, resize^T(g)> checks the gathered backward, on several threads, at realistic sizes.
  for (bool ac : {true, false}) {
    for (auto [in, out] : {std::pair<int64_t, int64_t>{65, 513}, {513, 385}, {41, 97}}) {
      const int64_t batch = in == 41 ? 3 : 1;
      Tensor x = random_input({batch, in, in, 3}, 21, true);
      Generator gen(7);
      Tensor g = Tensor::uniform({batch, out, out, 3}, -1, 1, gen, DType::f64);
      Tensor y = resize_bilinear(x, ResizeParams::to_size(out, out, ac));
      sum(mul(y, g)).backward();
      const double lhs = sum(mul(y, g)).item<double>();
      const double rhs = sum(mul(x.detach(), x.grad())).item<double>();
      EXPECT_NEAR(lhs, rhs, 1e-9 * std::abs(lhs) + 1e-9) << in << " -> " << out << " align_corners=" << ac;
    }
  }
}

TEST(ResizeChecks, BadArgumentsThrowNamingTheOp) {
  Tensor x = Tensor::ones({1, 4, 4, 2});
  auto expect_error = [](auto&& call, const char* what) {
    try {
      call();
      ADD_FAILURE() << "expected an error: " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("resize_bilinear"), std::string::npos) << e.what();
    }
  };
  expect_error([&] { resize_bilinear(Tensor::ones({4, 4, 2}), ResizeParams::to_size(2, 2, true)); }, "rank 3");
  expect_error([&] { resize_bilinear(Tensor::ones({1, 4, 4, 2}, DType::i32), ResizeParams::to_size(2, 2, true)); },
               "integer input");
  expect_error([&] { resize_bilinear(Tensor(), ResizeParams::to_size(2, 2, true)); }, "undefined input");
  expect_error([&] { resize_bilinear(x, ResizeParams::to_size(0, 2, true)); }, "zero height");
  expect_error([&] { resize_bilinear(x, ResizeParams::to_size(2, -1, false)); }, "negative width");
  expect_error([&] { resize_bilinear(x, ResizeParams{2, 2, 0.5, true}); }, "size and scale");
  expect_error([&] { resize_bilinear(x, ResizeParams{}); }, "neither size nor scale");
  expect_error([&] { resize_bilinear(x, ResizeParams::by_scale(-0.5, true)); }, "negative scale");
  expect_error([&] { resize_bilinear(x, ResizeParams::by_scale(std::nan(""), true)); }, "NaN scale");
  expect_error([&] { resize_bilinear(x, ResizeParams::by_scale(0.1, true)); }, "scale to an empty output");
  expect_error([&] { resize_bilinear(Tensor::ones({1, 0, 4, 2}), ResizeParams::to_size(2, 2, true)); },
               "empty input");
}
