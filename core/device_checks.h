// Checks of values the device computes, made at the next synchronisation instead of at once: an op that would have
// to wait for the device to validate its input (softmax cross-entropy's labels) queues the check and goes on, the
// way a GPU reports a device-side assertion at the next synchronising call. Every copy from a CUDA device to the host
// (Tensor::to(cpu), item(), to_double_vector()...) and cuda::synchronize runs the pending checks of that device and
// throws the first failure, naming the op that queued it. At most kMaxPendingChecks wait per device: the next one
// synchronises, so an unbounded loop that never reads anything still reports within a few steps.
#pragma once
#include <functional>
#include <string>

#include "core/device.h"
#include "core/tensor.h"

namespace atrous {

constexpr size_t kMaxPendingChecks = 64;

// `value` is a device tensor holding one f64; `verdict(v)` returns "" when v is fine, else the error message.
void defer_device_check(const Tensor& value, std::function<std::string(double)> verdict);

// Runs and clears the pending checks of `device` (reads their values: synchronises). Throws atrous::Error.
void run_device_checks(Device device);

}  // namespace atrous
