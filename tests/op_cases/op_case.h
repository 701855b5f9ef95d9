// The op case table: one entry per (op, geometry) says how to make the op's inputs and how to run it, and how close
// its CUDA result must follow the CPU's. The tested cases drive the CPU check (f32 against f64), the CUDA (or
// simulator) comparison and the finite-difference gradient check in tests/test_op_cases.cpp; timed cases, made by
// the same functions at DeepLab's sizes, drive benchmarks/bench_ops.cpp (as ggml's test-backend-ops keeps a test
// list and a perf list of the same case types). Each tests/op_cases/<op>.cpp registers its own cases with one
// `RegisterOpCases` object, so a new op adds one file here and touches no test or benchmark.
//
// This library does not use GoogleTest (the benchmarks link it too): the checks live in the test.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace atrous::op_cases {

using Inputs = std::vector<Tensor>;

// How the finite-difference check runs (in f64): at most this many elements per input, chosen at random (always
// the first and last); 0 checks them all.
struct GradCheckLimits {
  bool enabled = true;
  int64_t max_elements_per_input = 256;
  double atol = 1e-6;
  double rtol = 1e-5;
};

struct OpCase {
  using MakeInputs = std::function<Inputs(Generator&)>;
  using Run = std::function<Tensor(const Inputs&)>;

  OpCase(std::string op_name, std::string case_name, MakeInputs make_inputs, Run run_op)
      : op(std::move(op_name)), name(std::move(case_name)), inputs(std::move(make_inputs)), run(std::move(run_op)) {}

  std::string op;    // the op's name, e.g. "conv2d"
  std::string name;  // the geometry, e.g. "3x3 dilation 2"
  // Makes the inputs on the CPU: floating ones in f32 (each case runs them converted to every dtype below, so the
  // f32 and f64 runs see the same values), integer ones (labels) as they are.
  MakeInputs inputs;
  Run run;
  std::vector<DType> dtypes{DType::f32, DType::f64};
  // Inputs that take no gradient even when floating (class weights, a frozen layer's weights). Running statistics
  // the op updates in place belong here too: they are compared between devices after the run.
  std::vector<size_t> no_grad_inputs;
  // f32 results (forward, and the gradients of sum(output * R)) against the reference, relative to the reference's
  // largest element: CUDA against the CPU, and the CPU's f32 against its f64. f64 runs use kF64Tolerance.
  double f32_tolerance = 1e-5;
  double f32_grad_tolerance = 1e-5;
  // False for ops without a gradient (argmax, nearest resize): their inputs are not made to require one, and there
  // are no gradient checks and no backward timing.
  bool differentiable = true;
  GradCheckLimits gradcheck;
  // A CUDA-only mode the case runs under (tf32 convolutions): on for a CUDA run, forward and backward, off after.
  std::function<void(bool on)> cuda_mode;

  std::string full_name() const { return op + "/" + name; }
  bool takes_gradient(size_t input) const;
};

inline constexpr double kF64Tolerance = 1e-10;

// Every registered case, in registration order within a file: the tested ones, and the timed ones (run in f32).
const std::vector<OpCase>& all_op_cases();
const std::vector<OpCase>& all_op_benchmarks();

// One per tests/op_cases/<op>.cpp, at namespace scope: `const RegisterOpCases registered(tested, timed);`.
struct RegisterOpCases {
  explicit RegisterOpCases(std::vector<OpCase> tested, std::vector<OpCase> timed = {});
};

// The case's inputs converted to `dtype` (floating ones) and moved to `device`; those that take a gradient are
// fresh leaves requiring one when `with_grad`.
Inputs prepare_inputs(const OpCase& c, const Inputs& base, DType dtype, Device device, bool with_grad);

// Holds the case's CUDA mode on while it lives, when the run is on CUDA.
class CudaModeScope {
 public:
  CudaModeScope(const OpCase& c, Device device);
  ~CudaModeScope();
  CudaModeScope(const CudaModeScope&) = delete;
  CudaModeScope& operator=(const CudaModeScope&) = delete;

 private:
  const std::function<void(bool)>* switch_ = nullptr;
};

// "2x5x7x3": a shape as case names spell it (test and benchmark names, and regex filters, avoid brackets).
std::string dims(const Shape& shape);

// A uniform tensor in [lo, hi) (f32).
Tensor uniform(const Shape& shape, Generator& gen, double lo = -1.0, double hi = 1.0);

}  // namespace atrous::op_cases
