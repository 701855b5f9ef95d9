#include "support/gradcheck.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/random.h"

namespace atrous::testing {
namespace {

double projected_loss(const OpUnderTest& f, const std::vector<Tensor>& inputs, const Tensor& projection) {
  NoGradGuard no_grad;
  Tensor out = f(inputs);
  return sum(mul(out, projection)).item<double>();
}

std::vector<int64_t> elements_to_check(int64_t n, int64_t limit, uint64_t seed) {
  std::vector<int64_t> all(n);
  for (int64_t i = 0; i < n; ++i) all[i] = i;
  if (limit <= 0 || n <= limit) return all;
  Generator gen(seed);
  std::vector<int64_t> picked{0, n - 1};
  while (static_cast<int64_t>(picked.size()) < limit) {
    picked.push_back(std::min<int64_t>(n - 1, static_cast<int64_t>(gen.next_uniform() * n)));
  }
  return picked;
}

}  // namespace

Tensor random_input(const Shape& shape, uint64_t seed, bool requires_grad) {
  Generator gen(seed);
  Tensor t = Tensor::uniform(shape, -1.0, 1.0, gen, DType::f64);
  t.set_requires_grad(requires_grad);
  return t;
}

void expect_gradients_match(const OpUnderTest& f, const std::vector<Tensor>& inputs, const GradCheckOptions& options) {
  for (const Tensor& t : inputs) {
    ASSERT_TRUE(!t.defined() || t.dtype() == DType::f64 || !t.requires_grad())
        << "gradient checks run in f64, got " << t.description();
  }
  Tensor out = f(inputs);
  ASSERT_TRUE(out.requires_grad()) << "op output does not require grad";
  Generator gen(1234);
  Tensor projection = Tensor::uniform(out.shape(), -1.0, 1.0, gen, out.dtype());
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) const_cast<Tensor&>(t).zero_grad();
  sum(mul(out, projection)).backward();

  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& input = inputs[k];
    if (!input.defined() || !input.requires_grad()) continue;
    Tensor analytic = input.grad();
    ASSERT_TRUE(analytic.defined()) << "input " << k << " received no gradient";
    const std::vector<double> grad = analytic.to_double_vector();
    double* values = const_cast<Tensor&>(input).data<double>();
    int mismatches = 0;
    for (int64_t i : elements_to_check(input.numel(), options.max_elements_per_input, 99 + k)) {
      const double saved = values[i];
      values[i] = saved + options.eps;
      const double plus = projected_loss(f, inputs, projection);
      values[i] = saved - options.eps;
      const double minus = projected_loss(f, inputs, projection);
      values[i] = saved;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double tolerance = options.atol + options.rtol * std::abs(numeric);
      if (std::abs(numeric - grad[i]) > tolerance && ++mismatches <= 5) {
        ADD_FAILURE() << "input " << k << " " << input.description() << " element " << i << ": analytic " << grad[i]
                      << " vs numeric " << numeric;
      }
    }
    EXPECT_EQ(mismatches, 0) << "gradient mismatches in input " << k;
  }
}

}  // namespace atrous::testing
