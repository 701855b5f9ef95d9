// Inside the simulator: what went wrong during one launch. Blocks run on several host threads, so reports are
// collected under a lock and turned into one atrous::Error naming the kernel once the launch has finished.
#pragma once
#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace atrous::sim {

class LaunchReport {
 public:
  // A hazard (a race, an uninitialised read): recorded, the block goes on. Repeats of the same text are dropped.
  void hazard(const std::string& text) { add(text); }
  // A fatal error (a bad address, a barrier not all threads reach): the block stops and no further block starts.
  void fatal(const std::string& text) {
    add(text);
    stop_.store(true);
  }
  bool stopped() const { return stop_.load(); }
  // False once a launch has reported enough hazards: checking the rest would only cost time.
  bool wants_more() const { return count_.load(std::memory_order_relaxed) < 256; }
  bool empty() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return texts_.empty();
  }
  // Up to the first 8 reports, one per line, with a count of the rest.
  std::string summary() const;

 private:
  void add(const std::string& text);
  mutable std::mutex mutex_;
  std::vector<std::string> texts_;
  std::set<std::string> seen_;
  size_t dropped_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0};
};

}  // namespace atrous::sim
