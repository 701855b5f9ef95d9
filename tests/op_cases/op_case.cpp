#include "op_cases/op_case.h"

#include <algorithm>
#include <stdexcept>

namespace atrous::op_cases {
namespace {

// Filled during static initialisation, read after main starts.
std::vector<OpCase>& tested_cases() {
  static std::vector<OpCase> cases;
  return cases;
}
std::vector<OpCase>& timed_cases() {
  static std::vector<OpCase> cases;
  return cases;
}

void add_unique(std::vector<OpCase>& table, std::vector<OpCase> cases) {
  for (OpCase& c : cases) {
    for (const OpCase& existing : table) {
      if (existing.full_name() == c.full_name()) throw std::logic_error("op case registered twice: " + c.full_name());
    }
    table.push_back(std::move(c));
  }
}

}  // namespace

bool OpCase::takes_gradient(size_t input) const {
  return differentiable && std::find(no_grad_inputs.begin(), no_grad_inputs.end(), input) == no_grad_inputs.end();
}

const std::vector<OpCase>& all_op_cases() { return tested_cases(); }
const std::vector<OpCase>& all_op_benchmarks() { return timed_cases(); }

RegisterOpCases::RegisterOpCases(std::vector<OpCase> tested, std::vector<OpCase> timed) {
  add_unique(tested_cases(), std::move(tested));
  add_unique(timed_cases(), std::move(timed));
}

Inputs prepare_inputs(const OpCase& c, const Inputs& base, DType dtype, Device device, bool with_grad) {
  Inputs out;
  for (size_t i = 0; i < base.size(); ++i) {
    const Tensor& t = base[i];
    if (!t.defined()) {
      out.push_back(t);
      continue;
    }
    const bool floating = is_floating(t.dtype());
    Tensor moved = (floating ? t.to(dtype) : t).to(device);
    // A copy of its own even where to() changed nothing: the op may update an input in place (running
    // statistics), and the base is shared by runs.
    if (moved.raw_data() == t.raw_data()) moved = moved.clone();
    if (with_grad && floating && c.takes_gradient(i)) moved.set_requires_grad(true);
    out.push_back(moved);
  }
  return out;
}

CudaModeScope::CudaModeScope(const OpCase& c, Device device) {
  if (!device.is_cuda() || !c.cuda_mode) return;
  switch_ = &c.cuda_mode;
  (*switch_)(true);
}

CudaModeScope::~CudaModeScope() {
  if (switch_) (*switch_)(false);
}

std::string dims(const Shape& shape) {
  std::string out;
  for (int64_t d : shape) out += (out.empty() ? "" : "x") + std::to_string(d);
  return out.empty() ? "scalar" : out;
}

Tensor uniform(const Shape& shape, Generator& gen, double lo, double hi) {
  return Tensor::uniform(shape, lo, hi, gen, DType::f32);
}

}  // namespace atrous::op_cases
