// The one finite-difference gradient checker every op's test uses (f64, central differences).
#pragma once
#include <functional>
#include <vector>

#include "core/tensor.h"

namespace atrous::testing {

struct GradCheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  // Check at most this many elements per input (chosen at random, always including the first and last), so that
  // large dilated convolutions stay cheap; 0 checks every element.
  int64_t max_elements_per_input = 0;
};

using OpUnderTest = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d(sum(f(inputs) * R))/d(input) for a fixed random R against finite differences, for every input that
// requires grad. Inputs must be f64. Reports mismatches through GoogleTest (EXPECT) with the input and element.
void expect_gradients_match(const OpUnderTest& f, const std::vector<Tensor>& inputs,
                            const GradCheckOptions& options = {});

// A random f64 tensor with values in [-1, 1) that requires grad.
Tensor random_input(const Shape& shape, uint64_t seed, bool requires_grad = true);

}  // namespace atrous::testing
