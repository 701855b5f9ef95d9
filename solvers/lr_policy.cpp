#include "solvers/lr_policy.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"

namespace atrous {

namespace {

// The schedule without warmup, as Caffe's SGDSolver::GetLearningRate computes it. Caffe's poly would take a
// fractional power of a negative number past max_iter (NaN); we hold the lr at 0 there instead.
double schedule_lr(const LrPolicy& p, int64_t iteration) {
  if (p.kind == LrSchedule::constant) return p.base_lr;
  if (p.kind == LrSchedule::step) return p.base_lr * std::pow(p.gamma, static_cast<double>(iteration / p.step_size));
  const double progress = std::min(1.0, static_cast<double>(iteration) / static_cast<double>(p.max_iterations));
  return p.base_lr * std::pow(1.0 - progress, p.power);
}

std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

const NamedValues<LrSchedule>& lr_schedules() {
  static const NamedValues<LrSchedule> names(
      "lr policy", {{"poly", LrSchedule::poly}, {"step", LrSchedule::step}, {"constant", LrSchedule::constant}});
  return names;
}

void LrPolicy::validate() const {
  ATROUS_CHECK(std::isfinite(base_lr) && base_lr > 0, "LrPolicy: base_lr must be a positive number, got ", base_lr);
  ATROUS_CHECK(max_iterations > 0, "LrPolicy: max_iterations must be > 0, got ", max_iterations);
  if (kind == LrSchedule::poly)
    ATROUS_CHECK(std::isfinite(power) && power >= 0, "LrPolicy: poly power must be >= 0, got ", power);
  if (kind == LrSchedule::step) {
    ATROUS_CHECK(step_size > 0, "LrPolicy: step step_size must be > 0, got ", step_size);
    ATROUS_CHECK(std::isfinite(gamma) && gamma > 0, "LrPolicy: step gamma must be > 0, got ", gamma);
  }
  ATROUS_CHECK(warmup_iterations >= 0, "LrPolicy: warmup_iterations must be >= 0, got ", warmup_iterations);
  ATROUS_CHECK(warmup_iterations < max_iterations, "LrPolicy: warmup_iterations (", warmup_iterations,
               ") must be below max_iterations (", max_iterations, ")");
  ATROUS_CHECK(std::isfinite(warmup_start_factor) && warmup_start_factor >= 0 && warmup_start_factor <= 1,
               "LrPolicy: warmup_start_factor must be in [0, 1], got ", warmup_start_factor);
}

double LrPolicy::lr_at(int64_t iteration) const {
  validate();  // a handful of comparisons; keeps a policy edited after construction from producing NaN silently
  ATROUS_CHECK(iteration >= 0, "LrPolicy::lr_at: iteration must be >= 0, got ", iteration);
  if (iteration >= warmup_iterations) return schedule_lr(*this, iteration);
  // Linear ramp from start_factor * lr(0) to the schedule's own value at the end of warmup, so the curve is
  // continuous where warmup hands over.
  const double start = warmup_start_factor * schedule_lr(*this, 0);
  const double end = schedule_lr(*this, warmup_iterations);
  const double t = static_cast<double>(iteration) / static_cast<double>(warmup_iterations);
  return start + (end - start) * t;
}

std::string LrPolicy::str() const {
  std::string s = lr_schedules().name_of(kind) + " base_lr " + format_number(base_lr);
  if (kind == LrSchedule::poly) {
    s += " power " + format_number(power) + " max_iterations " + std::to_string(max_iterations);
  }
  if (kind == LrSchedule::step) s += " gamma " + format_number(gamma) + " every " + std::to_string(step_size);
  if (warmup_iterations > 0)
    s += ", warmup " + std::to_string(warmup_iterations) + " from x" + format_number(warmup_start_factor);
  return s;
}

}  // namespace atrous
