// Pending device checks, per device, behind one lock; see core/device_checks.h.
#include "core/device_checks.h"

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "core/cuda_runtime.h"

namespace atrous {
namespace {

struct PendingCheck {
  Tensor value;
  std::function<std::string(double)> verdict;
};

std::mutex& checks_mutex() {
  static auto* m = new std::mutex();
  return *m;
}
std::map<int, std::vector<PendingCheck>>& pending() {
  static auto* p = new std::map<int, std::vector<PendingCheck>>();  // never destroyed: checks may run at exit
  return *p;
}
// Set while this thread reads the pending values, whose own copies must not run the checks again.
thread_local bool tls_running = false;
// How many checks wait, over all devices: every device->host copy asks, almost always to hear "none".
std::atomic<int> pending_count{0};

}  // namespace

void defer_device_check(const Tensor& value, std::function<std::string(double)> verdict) {
  ATROUS_CHECK(value.device().is_cuda() && value.numel() == 1 && value.dtype() == DType::f64,
               "defer_device_check: needs one f64 on a CUDA device, got ", value.description());
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(checks_mutex());
    auto& list = pending()[value.device().index];
    list.push_back({value, std::move(verdict)});
    pending_count.fetch_add(1);
    full = list.size() >= kMaxPendingChecks;
  }
  if (full) run_device_checks(value.device());
}

void run_device_checks(Device device) {
  if (!device.is_cuda() || tls_running || pending_count.load() == 0) return;
  std::vector<PendingCheck> checks;
  {
    std::lock_guard<std::mutex> lock(checks_mutex());
    auto it = pending().find(device.index);
    if (it == pending().end() || it->second.empty()) return;
    checks.swap(it->second);
    pending_count.fetch_sub(static_cast<int>(checks.size()));
  }
  tls_running = true;
  std::string failure;
  try {
    for (const PendingCheck& c : checks) {
      double v = 0;
      cuda::copy(&v, -1, c.value.raw_data(), device.index, sizeof(double));
      failure = c.verdict(v);
      if (!failure.empty()) break;
    }
  } catch (...) {
    tls_running = false;
    throw;
  }
  tls_running = false;
  if (!failure.empty()) throw Error(failure);
}

}  // namespace atrous
