// Learning-rate schedules of the DeepLab papers: "step" (multiply by gamma every step_size iterations), "poly"
// (base * (1 - iter/max_iter)^power, power 0.9), optionally preceded by a linear warmup; as Caffe computes them.
#pragma once
#include <cstdint>
#include <string>

#include "core/named_registry.h"

namespace atrous {

enum class LrSchedule { poly, step, constant };
const NamedValues<LrSchedule>& lr_schedules();  // "poly", "step", "constant"

struct LrPolicy {
  LrSchedule kind = LrSchedule::poly;
  double base_lr = 1e-3;
  int64_t max_iterations = 20000;  // poly: lr reaches 0 here
  double power = 0.9;              // poly
  int64_t step_size = 2000;        // step
  double gamma = 0.1;              // step
  int64_t warmup_iterations = 0;   // linear from warmup_start_factor * lr(0) up to the schedule's lr at warmup end
  double warmup_start_factor = 0.1;

  // The lr for optimizer step `iteration` (0-based). Invalid settings (max_iterations <= 0, ...) are
  // an atrous::Error naming the setting, raised by validate(), which the constructor of a Trainer calls.
  double lr_at(int64_t iteration) const;
  void validate() const;
  // One line for logs, e.g. "poly base_lr 0.001 power 0.9 max_iterations 20000, warmup 500 from x0.1".
  std::string str() const;
};

}  // namespace atrous
