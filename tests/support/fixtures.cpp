// Fixture loading and tolerance comparisons for the golden tests.
#include "support/fixtures.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/npy.h"

#ifndef ATROUS_FIXTURE_DIR
#error "ATROUS_FIXTURE_DIR must be defined by tests/CMakeLists.txt"
#endif

namespace atrous::testing {
namespace {

std::string multi_index(const Shape& shape, int64_t flat) {
  std::string out = "[";
  Shape index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  for (size_t d = 0; d < index.size(); ++d) out += (d ? "," : "") + std::to_string(index[d]);
  return out + "]";
}

bool verbose() {
  const char* v = std::getenv("ATROUS_GOLDEN_VERBOSE");
  return v && *v && std::string(v) != "0";
}

}  // namespace

std::string fixture_path(const std::string& case_name, const std::string& array) {
  return std::string(ATROUS_FIXTURE_DIR) + "/" + case_name + "/" + array + ".npy";
}

bool has_fixture(const std::string& case_name, const std::string& array) {
  return std::filesystem::exists(fixture_path(case_name, array));
}

Tensor load_fixture(const std::string& case_name, const std::string& array) {
  const std::string path = fixture_path(case_name, array);
  ATROUS_CHECK(std::filesystem::exists(path), "fixture ", path,
               " is missing; regenerate the fixtures with /usr/bin/python3 tests/fixtures/make_fixtures.py");
  return load_npy(path);
}

Discrepancy compare(const Tensor& actual, const Tensor& expected, const Tolerance& tol) {
  const std::vector<double> a = actual.to_double_vector();
  const std::vector<double> e = expected.to_double_vector();
  Discrepancy d;
  double worst_excess = -1.0;
  for (size_t i = 0; i < e.size(); ++i) {
    const double err = std::fabs(a[i] - e[i]);
    if (!std::isfinite(a[i]) && std::isfinite(e[i])) {
      d.has_nonfinite = true;
      ++d.mismatches;
      if (worst_excess != INFINITY) {
        worst_excess = INFINITY;
        d.worst_index = static_cast<int64_t>(i);
      }
      continue;
    }
    d.max_abs_error = std::max(d.max_abs_error, err);
    if (std::fabs(e[i]) > tol.atol) d.max_rel_error = std::max(d.max_rel_error, err / std::fabs(e[i]));
    const double excess = err - (tol.atol + tol.rtol * std::fabs(e[i]));
    if (excess > 0) ++d.mismatches;
    if (excess > worst_excess) {
      worst_excess = excess;
      d.worst_index = static_cast<int64_t>(i);
    }
  }
  return d;
}

::testing::AssertionResult all_close(const std::string& what, const Tensor& actual, const Tensor& expected,
                                     const Tolerance& tol) {
  if (!actual.defined() || !expected.defined()) {
    return ::testing::AssertionFailure() << what << ": " << (actual.defined() ? "expected" : "actual")
                                         << " tensor is undefined (actual " << actual.description() << ")";
  }
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(actual.shape()) << " differs from the "
                                         << "expected " << shape_str(expected.shape());
  }
  const Discrepancy d = compare(actual, expected, tol);
  std::ostringstream summary;
  summary << what << ": max abs error " << d.max_abs_error << ", max rel error " << d.max_rel_error << " over "
          << expected.numel() << " elements (atol " << tol.atol << ", rtol " << tol.rtol << ")";
  if (d.mismatches == 0) {
    if (verbose()) std::cout << "[golden] " << summary.str() << "\n";
    return ::testing::AssertionSuccess() << summary.str();
  }
  const std::vector<double> a = actual.to_double_vector();
  const std::vector<double> e = expected.to_double_vector();
  std::ostringstream values;
  values.precision(9);
  values << "got " << a[d.worst_index] << ", expected " << e[d.worst_index];
  return ::testing::AssertionFailure()
         << summary.str() << "; " << d.mismatches << " elements out of tolerance"
         << (d.has_nonfinite ? " (some not finite)" : "") << "; worst at " << multi_index(expected.shape(), d.worst_index)
         << ": " << values.str();
}

}  // namespace atrous::testing
