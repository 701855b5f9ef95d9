// Pooling: Caffe ceil-mode output sizes (DeepLab's 321 -> 161 -> 81 -> 41), max/avg/global-average forward against
// naive loops, argmax tie rule, parallel backward passes, and argument errors. Finite differences and CUDA run
// from the op case table (tests/op_cases/pooling.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/pooling.h"
#include "core/random.h"

using namespace atrous;

namespace {

Pool2dParams pool(int k, int s, int p, bool ceil = false, bool include_pad = true) {
  return Pool2dParams{}.with_kernel(k).with_stride(s).with_padding(p).with_ceil_mode(ceil).with_count_include_pad(
      include_pad);
}

Tensor make(const Shape& shape, uint64_t seed, DType dtype = DType::f64) {
  Generator gen(seed);
  return Tensor::uniform(shape, -1.0, 1.0, gen, dtype);
}

// Distinct values (a shuffled ramp) so every max-pool window has a unique maximum and finite differences are valid.
Tensor distinct_input(const Shape& shape, uint64_t seed) {
  const int64_t n = shape_numel(shape);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = (static_cast<double>(i) / n) - 0.5;
  Generator gen(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = std::min<int64_t>(i, static_cast<int64_t>(gen.next_uniform() * (i + 1)));
    std::swap(v[i], v[j]);
  }
  Tensor t = Tensor::from_vector<double>(v, shape);
  t.set_requires_grad(true);
  return t;
}

struct Naive {
  std::vector<double> y;
  std::vector<int64_t> argmax;
  Shape shape;
};

// Straight from the definition: window rows [oh*s - p, oh*s - p + k) over the padded image.
Naive naive_pool(const Tensor& x, const Pool2dParams& p, bool max) {
  const int64_t N = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t OH = pool2d_output_size(H, p), OW = pool2d_output_size(W, p);
  const std::vector<double> xv = x.to_double_vector();
  Naive out{std::vector<double>(N * OH * OW * C), std::vector<int64_t>(N * OH * OW * C), {N, OH, OW, C}};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow)
        for (int64_t c = 0; c < C; ++c) {
          double best = -std::numeric_limits<double>::infinity(), total = 0.0;
          int64_t where = -1, valid = 0, padded = 0;
          for (int64_t kh = 0; kh < p.kernel; ++kh)
            for (int64_t kw = 0; kw < p.kernel; ++kw) {
              const int64_t ih = oh * p.stride - p.padding + kh, iw = ow * p.stride - p.padding + kw;
              if (ih < H + p.padding && iw < W + p.padding) ++padded;
              if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
              const double v = xv[((n * H + ih) * W + iw) * C + c];
              ++valid;
              total += v;
              if (where < 0 || v > best) {
                best = v;
                where = ih * W + iw;
              }
            }
          const int64_t o = ((n * OH + oh) * OW + ow) * C + c;
          out.y[o] = max ? best : total / (p.count_include_pad ? padded : valid);
          out.argmax[o] = where;
        }
  return out;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tol) && ++bad <= 5)
      ADD_FAILURE() << what << " element " << i << ": got " << got[i] << ", want " << want[i];
}

// Windows the forward tests sweep: DeepLab's pools, floor and ceil rounding, padding, odd sizes.
const std::vector<Pool2dParams>& window_cases() {
  static const std::vector<Pool2dParams> cases{pool(3, 2, 1, true), pool(3, 1, 1), pool(2, 2, 0),
                                               pool(3, 2, 0, true), pool(3, 2, 1), pool(2, 2, 1, true),
                                               pool(4, 3, 2, true), pool(1, 1, 0), pool(5, 2, 2, false, false)};
  return cases;
}

}  // namespace

TEST(PoolOutputSize, CaffeCeilMode) {
  const Pool2dParams deeplab = pool(3, 2, 1, true);
  EXPECT_EQ(pool2d_output_size(321, deeplab), 161);
  EXPECT_EQ(pool2d_output_size(161, deeplab), 81);
  EXPECT_EQ(pool2d_output_size(81, deeplab), 41);
  EXPECT_EQ(pool2d_output_size(513, deeplab), 257);
  EXPECT_EQ(pool2d_output_size(41, pool(3, 1, 1)), 41);
  EXPECT_EQ(pool2d_output_size(320, deeplab), 161);        // ceil(319/2)+1
  EXPECT_EQ(pool2d_output_size(320, pool(3, 2, 1)), 160);  // floor
  EXPECT_EQ(pool2d_output_size(4, pool(3, 2, 0, true)), 2);
  EXPECT_EQ(pool2d_output_size(4, pool(3, 2, 0)), 1);
  // The last window would start in the right padding: dropped (Caffe and PyTorch).
  EXPECT_EQ(pool2d_output_size(5, pool(2, 2, 1, true)), 3);
  EXPECT_EQ(pool2d_output_size(2, pool(3, 2, 0)), 0);  // no window fits
  EXPECT_THROW(pool2d_output_size(5, pool(0, 1, 0)), Error);
}

TEST(MaxPool, ForwardMatchesNaive) {
  for (DType dtype : {DType::f64, DType::f32}) {
    for (const Shape& shape : {Shape{2, 13, 11, 3}, Shape{1, 17, 17, 5}, Shape{1, 8, 9, 1}}) {
      Tensor x = make(shape, 1, dtype);
      for (const Pool2dParams& p : window_cases()) {
        SCOPED_TRACE(::testing::Message() << "shape " << shape_str(shape) << " k" << p.kernel << " s" << p.stride
                                          << " p" << p.padding << " ceil " << p.ceil_mode);
        Tensor y = max_pool2d(x, p);
        const Naive want = naive_pool(x, p, true);
        EXPECT_EQ(y.shape(), want.shape);
        EXPECT_EQ(y.to_double_vector(), want.y);  // max is exact
      }
    }
  }
}

TEST(MaxPool, DeepLabShapesInParallel) {
  // 3x3/2/1 ceil then 3x3/1/1, as in DeepLab-LargeFOV pool4 -> pool5; large enough to use every thread.
  Tensor x = make({1, 41, 41, 32}, 2, DType::f32);
  Tensor y = max_pool2d(x, pool(3, 2, 1, true));
  EXPECT_EQ(y.shape(), (Shape{1, 21, 21, 32}));
  EXPECT_EQ(y.to_double_vector(), naive_pool(x, pool(3, 2, 1, true), true).y);
  Tensor z = max_pool2d(x, pool(3, 1, 1));
  EXPECT_EQ(z.shape(), x.shape());
  EXPECT_EQ(z.to_double_vector(), naive_pool(x, pool(3, 1, 1), true).y);
}

TEST(MaxPool, TiesGoToTheFirstPixelAndBackwardRoutesThere) {
  // Constant input: every window's max is its first (top-left) valid pixel, as in PyTorch.
  Tensor x = Tensor::ones({1, 4, 5, 2}, DType::f64).set_requires_grad(true);
  Tensor y = max_pool2d(x, pool(2, 2, 0, true));  // 2x3 output; the last column holds one pixel column
  ASSERT_EQ(y.shape(), (Shape{1, 2, 3, 2}));
  sum(y).backward();
  const std::vector<double> g = x.grad().to_double_vector();
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t w = 0; w < 5; ++w)
      for (int64_t c = 0; c < 2; ++c) {
        const double want = (h % 2 == 0 && w % 2 == 0) ? 1.0 : 0.0;
        EXPECT_EQ(g[(h * 5 + w) * 2 + c], want) << "h " << h << " w " << w;
      }
}

TEST(MaxPool, OverlappingWindowsSumTheirGradients) {
  // 3x3/1/1 on a single peak: all nine windows around it pick it, so it collects nine upstream gradients.
  Tensor x = Tensor::zeros({1, 5, 5, 1}, DType::f64);
  x.data<double>()[12] = 1.0;
  x.set_requires_grad(true);
  Tensor dy = make({1, 5, 5, 1}, 3);
  max_pool2d(x, pool(3, 1, 1)).backward(dy);
  const std::vector<double> g = x.grad().to_double_vector(), d = dy.to_double_vector();
  double want = 0.0;
  for (int64_t h = 1; h <= 3; ++h)
    for (int64_t w = 1; w <= 3; ++w) want += d[h * 5 + w];
  EXPECT_NEAR(g[12], want, 1e-15);
}

TEST(MaxPool, NanPropagates) {
  Tensor x = Tensor::ones({1, 2, 2, 1});
  x.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(max_pool2d(x, pool(2, 2, 0)).item<float>()));
}

TEST(AvgPool, ForwardMatchesNaiveInBothCountModes) {
  for (DType dtype : {DType::f64, DType::f32}) {
    const double tol = dtype == DType::f64 ? 1e-14 : 1e-6;
    for (const Shape& shape : {Shape{2, 13, 11, 3}, Shape{1, 17, 17, 5}, Shape{1, 1, 41, 32}}) {
      Tensor x = make(shape, 4, dtype);
      for (Pool2dParams p : window_cases()) {
        for (bool include_pad : {true, false}) {
          p.count_include_pad = include_pad;
          if (pool2d_output_size(shape[1], p) < 1) continue;
          SCOPED_TRACE(::testing::Message() << "shape " << shape_str(shape) << " k" << p.kernel << " s" << p.stride
                                            << " p" << p.padding << " ceil " << p.ceil_mode << " pad " << include_pad);
          Tensor y = avg_pool2d(x, p);
          const Naive want = naive_pool(x, p, false);
          EXPECT_EQ(y.shape(), want.shape);
          expect_near_all(y.to_double_vector(), want.y, tol, "y");
        }
      }
    }
  }
}

TEST(AvgPool, HandComputedCorner) {
  // 3x3/1/1 on a 2x2 image of ones: every window holds 4 valid pixels of 9 padded ones (count_include_pad) ...
  Tensor x = Tensor::ones({1, 2, 2, 1});
  EXPECT_EQ(avg_pool2d(x, pool(3, 1, 1)).to_double_vector(), std::vector<double>(4, 4.0f / 9.0f));
  EXPECT_EQ(avg_pool2d(x, pool(3, 1, 1, false, false)).to_double_vector(), std::vector<double>(4, 1.0));
  // ... and a ceil-mode window sticking out past the right padding divides by its extent clipped to in + p
  // (Caffe/PyTorch): in 6, k 3, s 2, p 1 -> 4 columns, the last window [5, 8) clipped to [5, 7). The single row's
  // window [-1, 2) is 3 high.
  Tensor row = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {1, 1, 6, 1});
  Tensor y = avg_pool2d(row, pool(3, 2, 1, true));
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 1}));
  expect_near_all(y.to_double_vector(), {(1 + 2) / 9.0, (2 + 3 + 4) / 9.0, (4 + 5 + 6) / 9.0, 6 / 6.0}, 1e-15, "y");
  Tensor valid_only = avg_pool2d(row, pool(3, 2, 1, true, false));
  expect_near_all(valid_only.to_double_vector(), {(1 + 2) / 2.0, (2 + 3 + 4) / 3.0, (4 + 5 + 6) / 3.0, 6.0}, 1e-15,
                  "y");
}

TEST(GlobalAvgPool, ForwardMatchesNaive) {
  for (const Shape& shape : {Shape{2, 5, 7, 3}, Shape{1, 65, 65, 16}, Shape{3, 1, 1, 4}}) {
    Tensor x = make(shape, 5, DType::f32);
    Tensor y = global_avg_pool(x);
    const int64_t N = shape[0], P = shape[1] * shape[2], C = shape[3];
    EXPECT_EQ(y.shape(), (Shape{N, 1, 1, C}));
    const std::vector<double> xv = x.to_double_vector();
    std::vector<double> want(N * C, 0.0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t c = 0; c < C; ++c) want[n * C + c] += xv[(n * P + p) * C + c] / P;
    expect_near_all(y.to_double_vector(), want, 1e-6, "y");
  }
}

TEST(PoolGradCheck, LargeBackwardsMatchSmallOnesInParallel) {
  // The parallel gathers against the serial definition: dx[i] = sum over outputs o choosing i of dy[o].
  Tensor x = distinct_input({1, 33, 35, 32}, 9);
  Tensor dy;
  for (const Pool2dParams& p : {pool(3, 2, 1, true), pool(3, 1, 1)}) {
    x.zero_grad();
    Tensor y = max_pool2d(x, p);
    dy = make(y.shape(), 10);
    y.backward(dy);
    const Naive ref = naive_pool(x, p, true);
    std::vector<double> want(x.numel(), 0.0);
    const std::vector<double> d = dy.to_double_vector();
    const int64_t C = 32, plane = 33 * 35;
    for (size_t o = 0; o < d.size(); ++o) {
      const int64_t c = static_cast<int64_t>(o) % C, n = static_cast<int64_t>(o) / (C * y.size(1) * y.size(2));
      want[(n * plane + ref.argmax[o]) * C + c] += d[o];
    }
    expect_near_all(x.grad().to_double_vector(), want, 1e-14, "dx");
  }
}

TEST(PoolChecks, BadArgumentsThrow) {
  Tensor x = Tensor::ones({1, 8, 8, 2});
  EXPECT_THROW(max_pool2d(x, pool(0, 1, 0)), Error);
  EXPECT_THROW(max_pool2d(x, pool(3, 0, 0)), Error);
  EXPECT_THROW(max_pool2d(x, pool(3, 1, -1)), Error);
  EXPECT_THROW(max_pool2d(x, pool(3, 1, 2)), Error);  // padding > kernel/2
  EXPECT_THROW(avg_pool2d(x, pool(2, 2, 2)), Error);
  EXPECT_THROW(max_pool2d(Tensor::ones({1, 2, 2, 1}), pool(3, 2, 0)), Error);  // no output pixel
  EXPECT_THROW(avg_pool2d(Tensor::ones({1, 2, 2, 1}), pool(3, 2, 0, true)), Error);
  EXPECT_THROW(max_pool2d(Tensor::ones({8, 8, 2}), pool(2, 2, 0)), Error);
  EXPECT_THROW(avg_pool2d(Tensor::ones({1, 8, 8, 2}, DType::i32), pool(2, 2, 0)), Error);
  EXPECT_THROW(max_pool2d(Tensor(), pool(2, 2, 0)), Error);
  EXPECT_THROW(global_avg_pool(Tensor::ones({8, 2})), Error);
  EXPECT_THROW(global_avg_pool(Tensor::ones({1, 0, 3, 2})), Error);
  EXPECT_THROW(global_avg_pool(Tensor::ones({1, 2, 2, 2}, DType::u8)), Error);
  try {
    max_pool2d(Tensor::ones({1, 2, 2, 1}), pool(3, 2, 0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("max_pool2d"), std::string::npos) << what;
    EXPECT_NE(what.find("[1,2,2,1]"), std::string::npos) << what;
  }
}
