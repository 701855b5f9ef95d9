// Small helpers several test files share: a scratch folder per test, error-message expectations, bit-exact and
// tolerance tensor comparisons, and functional references for Conv2d / BatchNorm2d modules.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/tensor.h"

namespace atrous {
class BatchNorm2d;
class Conv2d;
}  // namespace atrous

namespace atrous::testing {

// True when ATROUS_REQUIRE_GPU=1: a CUDA test that finds no device must fail, not skip (set by the simulator stage
// of tools/run_tests.sh and by tools/gpu_run.sh, where a skip would hide that nothing ran).
bool gpu_required();

// Starts a test that needs a CUDA device (a GPU or the simulator): skips with the reason when there is none, or
// fails when ATROUS_REQUIRE_GPU=1. A macro because GTEST_SKIP and FAIL return from the test body.
#define ATROUS_REQUIRE_CUDA()                                                                                \
  do {                                                                                                       \
    if (!::atrous::cuda_available()) {                                                                       \
      if (::atrous::testing::gpu_required()) FAIL() << "ATROUS_REQUIRE_GPU=1 but no CUDA device is visible"; \
      GTEST_SKIP() << "no CUDA device visible (or CPU-only build): CUDA test skipped";                       \
    }                                                                                                        \
  } while (0)

// A fresh folder per test under the temp dir, named after the test (suite and name, '/' made '_') and the pid so
// parallel ctest runs never share one; removed after the test, write permission restored first in case the test
// took it away.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  const std::filesystem::path& dir() const { return dir_; }
  std::string path(const std::string& name) const;
  // Writes `bytes` verbatim to path(name) and returns that path.
  std::string write_raw(const std::string& name, const std::string& bytes) const;
  // File names in the folder, sorted.
  std::vector<std::string> listing() const;

 private:
  std::filesystem::path dir_;
};

// The whole file as bytes.
std::string read_bytes(const std::string& path);

// Runs `f`, expects an atrous::Error whose message contains every needle.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles);

// Same dtype, shape and bytes (in logical order); two undefined tensors are equal. The AssertionResult flavour
// says what differs.
::testing::AssertionResult bitwise_equal(const Tensor& a, const Tensor& b);
bool same_bits(const Tensor& a, const Tensor& b);

// Same shape and every element within tol * (1 + |b|).
void expect_close(const Tensor& a, const Tensor& b, double tol);

// Same shape (and both defined or both not) and |got - want| <= tol * max(1, max |want|) everywhere, comparing
// values on the host (dtypes and devices may differ); NaN passes only where `want` has NaN too. Reports the worst
// element under `what`. The scale makes one tolerance fit results of any magnitude: a device or dtype
// comparison's rounding grows with the largest value a sum passes through.
void expect_matches(const Tensor& got, const Tensor& want, double tol, const std::string& what);

// Random affine parameters and running statistics, so that eval-mode BN is not the identity.
void randomise_bn(BatchNorm2d& bn, Generator& gen);

// The module's convolution written with the functional op (bias if the module has one).
Tensor conv_ref(const Tensor& x, Conv2d& conv);

}  // namespace atrous::testing
