// Golden fixtures written by tests/fixtures/make_fixtures.py (PyTorch), and tolerance comparisons that report the worst
// element: how tests/test_golden.cpp checks our ops against PyTorch.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "core/tensor.h"

namespace atrous::testing {

// ATROUS_FIXTURE_DIR/<case_name>/<array>.npy (the folder is set by tests/CMakeLists.txt).
std::string fixture_path(const std::string& case_name, const std::string& array);
bool has_fixture(const std::string& case_name, const std::string& array);
// Loads one array; a missing fixture is an error that says how to regenerate them.
Tensor load_fixture(const std::string& case_name, const std::string& array);

struct Tolerance {
  double atol = 1e-5;
  double rtol = 1e-4;
};

struct Discrepancy {
  double max_abs_error = 0.0;       // max |actual - expected|
  double max_rel_error = 0.0;       // max |actual - expected| / |expected| over elements with |expected| > atol
  int64_t worst_index = -1;         // flat index of the element with the largest excess over the tolerance
  int64_t mismatches = 0;           // elements with |actual - expected| > atol + rtol * |expected|
  bool has_nonfinite = false;       // a NaN or infinity where the expectation is finite
};

// Element-wise comparison in logical order; shapes must match exactly (dtypes may differ).
Discrepancy compare(const Tensor& actual, const Tensor& expected, const Tolerance& tol);

// Passes when shapes match and every element is within atol + rtol * |expected|. The failure message names
// `what`, the tolerance, the number of mismatches, the max abs error and the worst element as a multi-index with
// both values. Set ATROUS_GOLDEN_VERBOSE=1 to print the max errors of passing comparisons as well.
::testing::AssertionResult all_close(const std::string& what, const Tensor& actual, const Tensor& expected,
                                     const Tolerance& tol);

}  // namespace atrous::testing
