// Every op case in the table (tests/op_cases/, one file per op): the CPU's f32 result against its f64 result, CUDA
// (or the simulator) against the CPU in every dtype the case lists, and f64 gradients against finite differences.
// "Result" means the forward output, the gradient of sum(output * R) for a fixed random R with respect to every
// input that takes one, and the inputs the op updates in place (running statistics). Tolerances are relative to
// the reference's largest element, so they hold for values of any size; NaN never passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "core/atrous.h"
#include "core/cuda_runtime.h"
#include "op_cases/op_case.h"
#include "support/gradcheck.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::op_cases;
using atrous::testing::expect_matches;

namespace {

struct Result {
  Tensor output;
  std::vector<Tensor> grads;  // per input; undefined where it takes no gradient
  std::vector<Tensor> state;  // per input; the no-gradient floating inputs after the run
};

Result run_case(const OpCase& c, const Inputs& base, DType dtype, Device device) {
  const Inputs in = prepare_inputs(c, base, dtype, device, /*with_grad=*/true);
  const CudaModeScope mode(c, device);
  Result r;
  r.output = c.run(in);
  if (r.output.defined() && is_floating(r.output.dtype()) && r.output.requires_grad()) {
    Generator gen(99);
    const Tensor projection = uniform(r.output.shape(), gen).to(r.output.dtype()).to(device);
    sum(mul(r.output, projection)).backward();
  }
  for (size_t i = 0; i < in.size(); ++i) {
    // Every input that takes a gradient gets one: an op that forgot to record itself would otherwise compare
    // "no gradient" with "no gradient" and pass.
    if (in[i].defined() && in[i].requires_grad() && is_floating(r.output.dtype())) {
      EXPECT_TRUE(in[i].grad().defined()) << "input " << i << " received no gradient on " << device.str();
    }
    r.grads.push_back(in[i].defined() && in[i].requires_grad() ? in[i].grad() : Tensor());
    const bool state = in[i].defined() && is_floating(in[i].dtype()) && !c.takes_gradient(i);
    r.state.push_back(state ? in[i] : Tensor());
  }
  return r;
}

void expect_results_match(const Result& got, const Result& want, double tol, double grad_tol) {
  expect_matches(got.output, want.output, tol, "output");
  for (size_t i = 0; i < want.grads.size(); ++i) {
    expect_matches(got.grads[i], want.grads[i], grad_tol, "gradient of input " + std::to_string(i));
    expect_matches(got.state[i], want.state[i], tol, "input " + std::to_string(i) + " after the run");
  }
}

bool lists(const OpCase& c, DType dtype) { return std::count(c.dtypes.begin(), c.dtypes.end(), dtype) > 0; }

// Indices of the cases a check applies to: a check that does not apply is not instantiated (rather than skipped).
std::vector<size_t> cases_where(bool (*applies)(const OpCase&)) {
  std::vector<size_t> picked;
  for (size_t i = 0; i < all_op_cases().size(); ++i)
    if (applies(all_op_cases()[i])) picked.push_back(i);
  return picked;
}

// "conv2d/3x3 dilation 2" -> "conv2d_3x3_dilation_2" (GoogleTest allows letters, digits and underscores).
std::string test_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string name;
  for (char ch : all_op_cases()[info.param].full_name()) {
    const bool keep = std::isalnum(static_cast<unsigned char>(ch));
    if (keep) name += ch;
    else if (!name.empty() && name.back() != '_') name += '_';
  }
  return name;
}

class OpCaseTest : public ::testing::TestWithParam<size_t> {
 protected:
  const OpCase& op_case() const { return all_op_cases()[GetParam()]; }
  Inputs base_inputs() const {
    Generator gen(1000 + GetParam());
    return op_case().inputs(gen);
  }
};

using CpuF32MatchesF64 = OpCaseTest;
using CudaMatchesCpu = OpCaseTest;
using GradientsMatchFiniteDifferences = OpCaseTest;

// The f32 kernels (blocked, vectorised, fused) against the f64 ones, which the gradient check holds to the
// definition.
TEST_P(CpuF32MatchesF64, ForwardAndGradients) {
  const OpCase& c = op_case();
  const Inputs base = base_inputs();
  expect_results_match(run_case(c, base, DType::f32, Device::cpu()), run_case(c, base, DType::f64, Device::cpu()),
                       c.f32_tolerance, c.f32_grad_tolerance);
}
INSTANTIATE_TEST_SUITE_P(OpCases, CpuF32MatchesF64,
                         ::testing::ValuesIn(cases_where([](const OpCase& c) {
                           return lists(c, DType::f32) && lists(c, DType::f64);
                         })),
                         test_name);

TEST_P(CudaMatchesCpu, ForwardAndGradients) {
  ATROUS_REQUIRE_CUDA();
  const OpCase& c = op_case();
  const Inputs base = base_inputs();
  for (DType dtype : c.dtypes) {
    SCOPED_TRACE(dtype_name(dtype));
    const Result gpu = run_case(c, base, dtype, Device::cuda(0));
    ASSERT_TRUE(gpu.output.device().is_cuda()) << "the result left the GPU: " << gpu.output.description();
    const bool f32 = dtype == DType::f32;
    expect_results_match(gpu, run_case(c, base, dtype, Device::cpu()), f32 ? c.f32_tolerance : kF64Tolerance,
                         f32 ? c.f32_grad_tolerance : kF64Tolerance);
  }
}
INSTANTIATE_TEST_SUITE_P(OpCases, CudaMatchesCpu, ::testing::ValuesIn(cases_where([](const OpCase&) {
                           return true;
                         })),
                         test_name);

TEST_P(GradientsMatchFiniteDifferences, F64) {
  const OpCase& c = op_case();
  atrous::testing::GradCheckOptions options;
  options.max_elements_per_input = c.gradcheck.max_elements_per_input;
  options.atol = c.gradcheck.atol;
  options.rtol = c.gradcheck.rtol;
  atrous::testing::expect_gradients_match(c.run, prepare_inputs(c, base_inputs(), DType::f64, Device::cpu(), true),
                                          options);
}
INSTANTIATE_TEST_SUITE_P(OpCases, GradientsMatchFiniteDifferences,
                         ::testing::ValuesIn(cases_where([](const OpCase& c) {
                           return c.differentiable && c.gradcheck.enabled && lists(c, DType::f64);
                         })),
                         test_name);

TEST(OpCaseTable, EveryOpHasCases) {
  std::vector<std::string> ops;
  for (const OpCase& c : all_op_cases()) ops.push_back(c.op);
  for (const char* op : {"add", "conv2d", "batch_norm", "resize_bilinear", "softmax_cross_entropy", "max_pool2d"}) {
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end()) << op << " has no op case: was its file linked?";
  }
}

}  // namespace
