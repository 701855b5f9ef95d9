// Grouped and depthwise conv2d: forward and backward against naive loops on every geometry of
// op_cases/grouped_conv_shapes.h, results independent of the thread count, the layer's weight shape and argument
// errors. Finite differences and CUDA against the CPU run from the op case table (tests/test_op_cases.cpp).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <string>

#include "core/ops/conv2d.h"
#include "core/random.h"
#include "layers/conv2d.h"
#include "op_cases/grouped_conv_shapes.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;

namespace {

using Case = grouped_conv_shapes::GroupedConv;

// The definition: y[n,oy,ox,co] = b[co] + sum over the group's input channels ci of
// x[n, oy*s-p+kh*d, ox*s-p+kw*d, group(co)*cin_g + ci] * w[co,kh,kw,ci].
std::vector<double> naive_forward(const Case& c, const std::vector<double>& x, const std::vector<double>& w,
                                  const std::vector<double>& b) {
  const int64_t cin_g = c.cin / c.groups, cout_g = c.cout / c.groups;
  std::vector<double> y(size_t(c.n * c.oh() * c.ow() * c.cout));
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t oy = 0; oy < c.oh(); ++oy)
      for (int64_t ox = 0; ox < c.ow(); ++ox)
        for (int64_t co = 0; co < c.cout; ++co) {
          double acc = b.empty() ? 0.0 : b[co];
          for (int64_t kh = 0; kh < c.k; ++kh)
            for (int64_t kw = 0; kw < c.k; ++kw) {
              const int64_t iy = oy * c.stride - c.padding + kh * c.dilation;
              const int64_t ix = ox * c.stride - c.padding + kw * c.dilation;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              for (int64_t ci = 0; ci < cin_g; ++ci)
                acc += x[((n * c.h + iy) * c.w + ix) * c.cin + (co / cout_g) * cin_g + ci] *
                       w[((co * c.k + kh) * c.k + kw) * cin_g + ci];
            }
          y[((n * c.oh() + oy) * c.ow() + ox) * c.cout + co] = acc;
        }
  return y;
}

// The gradient of sum(y * dy): the forward's loops with every product scattered back to its two factors.
void naive_backward(const Case& c, const std::vector<double>& x, const std::vector<double>& w,
                    const std::vector<double>& dy, std::vector<double>& dx, std::vector<double>& dw) {
  const int64_t cin_g = c.cin / c.groups, cout_g = c.cout / c.groups;
  dx.assign(x.size(), 0.0);
  dw.assign(w.size(), 0.0);
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t oy = 0; oy < c.oh(); ++oy)
      for (int64_t ox = 0; ox < c.ow(); ++ox)
        for (int64_t co = 0; co < c.cout; ++co) {
          const double d = dy[((n * c.oh() + oy) * c.ow() + ox) * c.cout + co];
          for (int64_t kh = 0; kh < c.k; ++kh)
            for (int64_t kw = 0; kw < c.k; ++kw) {
              const int64_t iy = oy * c.stride - c.padding + kh * c.dilation;
              const int64_t ix = ox * c.stride - c.padding + kw * c.dilation;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              for (int64_t ci = 0; ci < cin_g; ++ci) {
                const int64_t xi = ((n * c.h + iy) * c.w + ix) * c.cin + (co / cout_g) * cin_g + ci;
                const int64_t wi = ((co * c.k + kh) * c.k + kw) * cin_g + ci;
                dx[xi] += d * w[wi];
                dw[wi] += d * x[xi];
              }
            }
        }
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tol * (1.0 + std::abs(want[i]))) && ++bad <= 5)
      ADD_FAILURE() << what << " element " << i << ": got " << got[i] << ", want " << want[i];
  EXPECT_EQ(bad, 0) << what;
}

void check_against_naive(const Case& c, DType dtype, uint64_t seed) {
  SCOPED_TRACE(c.str() + " " + dtype_name(dtype));
  Generator gen(seed);
  Tensor x = Tensor::uniform(c.x_shape(), -1, 1, gen, dtype).set_requires_grad(true);
  Tensor w = Tensor::uniform(c.w_shape(), -1, 1, gen, dtype).set_requires_grad(true);
  Tensor b = c.bias ? Tensor::uniform({c.cout}, -1, 1, gen, dtype).set_requires_grad(true) : Tensor();
  Tensor dy = Tensor::uniform({c.n, c.oh(), c.ow(), c.cout}, -1, 1, gen, dtype);
  Tensor y = conv2d(x, w, b, c.params());
  ASSERT_EQ(y.shape(), (Shape{c.n, c.oh(), c.ow(), c.cout}));
  const std::vector<double> xv = x.to_double_vector(), wv = w.to_double_vector();
  const double tol = dtype == DType::f64 ? 1e-12 : 1e-5;
  expect_close(y.to_double_vector(), naive_forward(c, xv, wv, c.bias ? b.to_double_vector() : std::vector<double>{}),
               tol, "forward");
  y.backward(dy);
  std::vector<double> dx, dw;
  naive_backward(c, xv, wv, dy.to_double_vector(), dx, dw);
  expect_close(x.grad().to_double_vector(), dx, tol, "dx");
  expect_close(w.grad().to_double_vector(), dw, dtype == DType::f64 ? 1e-12 : 1e-4, "dw");
}

}  // namespace

TEST(GroupedConv2d, ForwardAndBackwardMatchNaiveLoops) {
  uint64_t seed = 1;
  for (const Case& c : grouped_conv_shapes::all()) {
    check_against_naive(c, DType::f64, seed);
    check_against_naive(c, DType::f32, seed++);
  }
}

// A MobileNet-sized layer: every path parallel, and the same bits with one thread as with all of them.
TEST(GroupedConv2d, DepthwiseResultsDoNotDependOnThreadCount) {
  Generator gen(7);
  const Case c{2, 33, 29, 96, 96, 3, 1, 2, 2, 96};
  Tensor x = Tensor::uniform(c.x_shape(), -1, 1, gen).set_requires_grad(true);
  Tensor w = Tensor::uniform(c.w_shape(), -1, 1, gen).set_requires_grad(true);
  Tensor dy = Tensor::uniform({c.n, c.oh(), c.ow(), c.cout}, -1, 1, gen);
  auto run = [&](int threads) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    x.zero_grad();
    w.zero_grad();
    Tensor y = conv2d(x, w, Tensor(), c.params());
    y.backward(dy);
    omp_set_num_threads(before);
    return std::vector<Tensor>{y, x.grad().clone(), w.grad().clone()};
  };
  const std::vector<Tensor> one = run(1), many = run(std::max(2, omp_get_max_threads()));
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(atrous::testing::same_bits(one[i], many[i])) << "output " << i;
  std::vector<double> dx, dw;
  naive_backward(c, x.to_double_vector(), w.to_double_vector(), dy.to_double_vector(), dx, dw);
  expect_close(one[2].to_double_vector(), dw, 1e-4, "dw");
}

TEST(GroupedConv2d, LayerWeightShapeAndDescription) {
  Generator gen(3);
  Conv2d depthwise(Conv2dOptions(32, 32, 3).with_groups(32).with_same_padding().with_bias(false), gen);
  EXPECT_EQ(depthwise.weight().shape(), (Shape{32, 3, 3, 1}));
  EXPECT_NE(depthwise.describe().find("depthwise"), std::string::npos) << depthwise.describe();
  Conv2d grouped(Conv2dOptions(8, 12, 1).with_groups(4), gen);
  EXPECT_EQ(grouped.weight().shape(), (Shape{12, 1, 1, 2}));
  EXPECT_NE(grouped.describe().find("groups 4"), std::string::npos) << grouped.describe();
  // PyTorch's default bound 1/sqrt(fan_in) with fan_in = 9 inputs per depthwise output.
  for (double v : depthwise.weight().to_double_vector()) ASSERT_LE(std::abs(v), 1.0 / 3.0);
  const Tensor y = depthwise.forward(Tensor::uniform({1, 5, 5, 32}, -1, 1, gen));
  EXPECT_EQ(y.shape(), (Shape{1, 5, 5, 32}));
  expect_error([&] { Conv2d(Conv2dOptions(6, 4, 3).with_groups(4), gen); }, {"Conv2d", "groups 4"});
}

TEST(GroupedConv2d, ArgumentErrors) {
  const Tensor x = Tensor::zeros({1, 5, 5, 6});
  expect_error([&] { conv2d(x, Tensor::zeros({6, 3, 3, 1}), Tensor(), Conv2dParams().with_groups(4)); },
               {"conv2d", "groups 4", "must divide"});
  expect_error([&] { conv2d(x, Tensor::zeros({4, 3, 3, 2}), Tensor(), Conv2dParams().with_groups(3)); },
               {"conv2d", "groups 3", "must divide", "output channels"});
  expect_error([&] { conv2d(x, Tensor::zeros({6, 3, 3, 1}), Tensor(), Conv2dParams().with_groups(3)); },
               {"conv2d", "Cin = 3", "1 per group", "has 6"});
  expect_error([&] { conv2d(x, Tensor::zeros({6, 3, 3, 1}), Tensor(), Conv2dParams().with_groups(0)); },
               {"conv2d", "groups 0"});
  expect_error([&] { conv2d(x, Tensor::zeros({6, 3, 3, 1}), Tensor::zeros({5}), Conv2dParams().with_groups(6)); },
               {"conv2d", "bias"});
}
