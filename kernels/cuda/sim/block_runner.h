// Inside the simulator: how one host thread runs the blocks of a launch. A BlockRunner owns the fiber stacks of up to
// 1024 simulated threads, runs one block at a time (threads as fibers, switched at barriers, warp collectives and
// atomics) and holds the state the access hooks (access_hooks.cpp) read: where this host thread's shared memory and
// fiber stacks lie, the current thread, and the race checker's barrier intervals and warp epochs.
#pragma once
#include <boost/context/detail/fcontext.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/sim/cuda_sim.h"
#include "kernels/cuda/sim/launch_report.h"

namespace atrous::sim {

namespace ctx = boost::context::detail;
struct StreamOp;

enum class ThreadState : uint8_t { runnable, at_barrier, at_warp_op, exited };

struct SimThread {
  ctx::fcontext_t context = nullptr;  // where to resume it
  uint3 index{};
  int warp = 0, lane = 0;
  ThreadState state = ThreadState::runnable;
  const void* wait_site = nullptr;  // the barrier or warp op it waits at
  int barrier_predicate = 0;
};

enum class WarpOp : uint8_t { none, sync, shuffle, ballot, exchange };

struct WarpState {
  unsigned arrived = 0, mask = 0, present = 0;  // present: the lanes this (maybe partial) warp has
  WarpOp op = WarpOp::none;
  const void* site = nullptr;
  int kind = 0, width = 32;
  uint64_t value[32] = {};
  int arg[32] = {};
  uint64_t result[32] = {};
  const void* exchanged[32] = {};
  uint32_t epoch = 0;  // bumped by every completed warp collective (race checker: the lanes have synchronised)
};

// One word of shared memory as the race checker sees it.
struct ShadowWord {
  uint64_t write_interval = 0, read_interval = 0, written_block = 0;
  const void* writer_pc = nullptr;
  const void* reader_pc = nullptr;
  uint32_t writer = 0, writer_epoch = 0, reader = 0, reader_epoch = 0;
};
constexpr uint32_t kManyReaders = 0xffffffffu;

class BlockRunner {
 public:
  BlockRunner();
  ~BlockRunner();
  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  // Runs block `block` of the launch; problems go to `report`; check_races: this block's shared memory is
  // race-checked. Returns false when the block hit a fatal error.
  bool run(const LaunchSpec& spec, void (*entry)(const void*), uint3 block, LaunchReport& report, bool check_races);

  // ---- for the built-ins, called from inside a fiber ----
  SimThread& current() { return threads_[current_]; }
  int current_index() const { return current_; }
  uint3 block_index() const { return block_; }
  const LaunchSpec& spec() const { return *spec_; }
  void barrier(int predicate, const void* site);
  int barrier_count() const { return barrier_count_; }
  uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int kind, int arg, int width, const void* site);
  WarpState& warp_of_current() { return warps_[threads_[current_].warp]; }
  void yield();
  [[noreturn]] void fail(const std::string& what);  // a fatal error in the current thread: the block stops
  void* dynamic_shared() { return dynamic_shared_.data(); }
  std::string thread_name(int linear) const;
  std::string where() const;  // "kernel K, block (x,y,z), thread (x,y,z)"

  // ---- for the access hooks ----
  uintptr_t shared_lo = 0, shared_size = 0;    // this host thread's static shared memory (its TLS block)
  uintptr_t dynamic_lo = 0, dynamic_size = 0;  // this launch's dynamic shared memory
  uintptr_t stacks_lo = 0, stacks_size = 0;    // every fiber stack of this runner
  uintptr_t params_lo = 0, params_size = 0;    // the launch's argument values (read-only)
  bool race_check = true;                      // for the current block
  uint64_t interval = 0;                       // the current barrier interval (unique over the runner's life)
  uint64_t block_serial = 0;                   // the current block (unique over the runner's life)
  std::vector<ShadowWord> static_shadow, dynamic_shadow;
  LaunchReport* report = nullptr;
  const StreamOp* op = nullptr;  // the launch as the stream-order checker sees it
  uint32_t warp_epoch(int warp) const { return warps_[warp].epoch; }
  int warp_of(uint32_t thread) const { return threads_[thread].warp; }

 private:
  static void fiber_entry(ctx::transfer_t from);
  void resume(int thread);
  void start_block(uint3 block);
  bool release_barrier_or_report();
  void complete_warp_op(WarpState& w);
  void next_interval() { interval = ++interval_counter_; }

  const LaunchSpec* spec_ = nullptr;
  void (*entry_)(const void*) = nullptr;
  uint3 block_{};
  std::vector<SimThread> threads_;
  std::vector<WarpState> warps_;
  int current_ = 0;
  ctx::fcontext_t scheduler_ = nullptr;
  bool aborted_ = false;
  int barrier_count_ = 0;
  uint64_t interval_counter_ = 0, order_state_ = 0;
  char* stack_region_ = nullptr;
  size_t stack_bytes_ = 0, region_bytes_ = 0;
  std::vector<char> dynamic_shared_;
};

// The runner of the calling host thread while it runs a block (the hooks and built-ins use it), else null.
extern thread_local BlockRunner* tls_runner;

}  // namespace atrous::sim
