// The simulator's block scheduler: the threads of a block are fibers (Boost.Context) on one host thread. A thread
// runs until it reaches a scheduling point -- __syncthreads, a warp collective (__shfl*_sync, __ballot_sync,
// __syncwarp, WMMA) or an atomic -- and between barriers the runnable threads are resumed in a seeded shuffled order
// (ATROUS_SIM_SEED; 0 keeps thread order), so code that only works in one order shows it. A barrier releases once
// every thread of the block waits at it; a barrier some threads never reach, or warp collectives whose lanes never
// meet, are reported instead of hanging.
#include "kernels/cuda/sim/block_runner.h"

#include <link.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <sstream>

#include "core/error.h"
#include "kernels/cuda/sim/sim_settings.h"

namespace atrous::sim {

thread_local BlockRunner* tls_runner = nullptr;

namespace {

constexpr size_t kMaxThreads = 1024;
constexpr size_t kGuardBytes = 4096;

// The static TLS block of the module holding this file: where every __shared__ variable (a thread_local static) of
// the calling host thread lives.
struct TlsSearch {
  uintptr_t anchor, lo = 0, size = 0;
};
int find_tls_block(dl_phdr_info* info, size_t, void* data) {
  auto* search = static_cast<TlsSearch*>(data);
  if (!info->dlpi_tls_data) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_TLS) continue;
    const auto lo = reinterpret_cast<uintptr_t>(info->dlpi_tls_data);
    if (search->anchor >= lo && search->anchor < lo + ph.p_memsz) {
      search->lo = lo;
      search->size = ph.p_memsz;
      return 1;
    }
  }
  return 0;
}

std::string format_index(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

}  // namespace

std::string LaunchReport::summary() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  for (const std::string& t : texts_) out += "\n  " + t;
  if (dropped_) out += "\n  ... and " + std::to_string(dropped_) + " more";
  return out;
}

void LaunchReport::add(const std::string& text) {
  count_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!seen_.insert(text).second) return;
  if (texts_.size() < 8) {
    texts_.push_back(text);
  } else {
    ++dropped_;
  }
}

BlockRunner::BlockRunner() {
  stack_bytes_ = settings().stack_bytes;
  region_bytes_ = kMaxThreads * (stack_bytes_ + kGuardBytes);
  void* region =
      mmap(nullptr, region_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ATROUS_CHECK(region != MAP_FAILED, "CUDA simulator: cannot reserve ", region_bytes_, " bytes of fiber stacks");
  stack_region_ = static_cast<char*>(region);
  // A guard page below every stack: an overflowing fiber faults instead of writing into its neighbour.
  for (size_t t = 0; t < kMaxThreads; ++t)
    mprotect(stack_region_ + t * (stack_bytes_ + kGuardBytes), kGuardBytes, PROT_NONE);
  stacks_lo = reinterpret_cast<uintptr_t>(stack_region_);
  stacks_size = region_bytes_;
  TlsSearch search{reinterpret_cast<uintptr_t>(&tls_runner)};
  dl_iterate_phdr(find_tls_block, &search);
  ATROUS_CHECK(search.size > 0, "CUDA simulator: cannot find the thread-local block that holds __shared__ memory");
  shared_lo = search.lo;
  shared_size = search.size;
  if (settings().race_check != RaceCheck::off) static_shadow.resize(shared_size / 4 + 1);
}

BlockRunner::~BlockRunner() { munmap(stack_region_, region_bytes_); }

void BlockRunner::start_block(uint3 block) {
  const dim3 b = spec_->block;
  const int n = static_cast<int>(b.x * b.y * b.z);
  block_ = block;
  threads_.resize(n);
  warps_.assign((n + 31) / 32, WarpState{});
  for (int t = 0; t < n; ++t) {
    SimThread& th = threads_[t];
    th.index = {t % b.x, (t / b.x) % b.y, t / (b.x * b.y)};
    th.warp = t / 32;
    th.lane = t % 32;
    th.state = ThreadState::runnable;
    th.wait_site = nullptr;
    char* top = stack_region_ + (t + 1) * (stack_bytes_ + kGuardBytes);
    th.context = ctx::make_fcontext(top, stack_bytes_, &BlockRunner::fiber_entry);
    warps_[th.warp].present |= 1u << th.lane;
  }
  params_lo = reinterpret_cast<uintptr_t>(spec_->params);
  params_size = spec_->params_bytes;
  dynamic_shared_.assign(spec_->dynamic_shared_bytes, char(0xA5));  // garbage, as on the device
  dynamic_lo = reinterpret_cast<uintptr_t>(dynamic_shared_.data());
  dynamic_size = dynamic_shared_.size();
  if (race_check && dynamic_shadow.size() < dynamic_size / 4 + 1) dynamic_shadow.resize(dynamic_size / 4 + 1);
  block_serial = ++interval_counter_;
  next_interval();
  barrier_count_ = 0;
  aborted_ = false;
}

void BlockRunner::fiber_entry(ctx::transfer_t from) {
  auto* self = static_cast<BlockRunner*>(from.data);
  self->scheduler_ = from.fctx;
  try {
    self->entry_(self->spec_->params);
  } catch (const std::exception& e) {
    self->report->fatal(self->where() + ": threw " + e.what());
    self->aborted_ = true;
  }
  self->threads_[self->current_].state = ThreadState::exited;
  ctx::jump_fcontext(self->scheduler_, nullptr);
  std::fprintf(stderr, "CUDA simulator: an exited fiber was resumed\n");
  std::abort();
}

void BlockRunner::resume(int thread) {
  current_ = thread;
  const ctx::transfer_t back = ctx::jump_fcontext(threads_[thread].context, this);
  threads_[thread].context = back.fctx;
}

void BlockRunner::yield() {
  const ctx::transfer_t back = ctx::jump_fcontext(scheduler_, nullptr);
  scheduler_ = back.fctx;
}

void BlockRunner::fail(const std::string& what) {
  report->fatal(where() + ": " + what);
  aborted_ = true;
  ctx::jump_fcontext(scheduler_, nullptr);  // never resumed: the block is abandoned
  std::abort();
}

std::string BlockRunner::thread_name(int linear) const { return format_index(threads_[linear].index); }

std::string BlockRunner::where() const {
  return std::string("kernel ") + spec_->name + ", block " + format_index(block_) + ", thread " + thread_name(current_);
}

bool BlockRunner::run(const LaunchSpec& spec, void (*entry)(const void*), uint3 block, LaunchReport& out,
                      bool check_races) {
  spec_ = &spec;
  race_check = check_races && settings().race_check != RaceCheck::off;
  entry_ = entry;
  report = &out;
  start_block(block);
  BlockRunner* const outer = tls_runner;
  tls_runner = this;
  const int n = static_cast<int>(threads_.size());
  const uint64_t seed = settings().seed;
  for (;;) {
    // A fresh order for every pass: start and a step coprime with n visit each thread once.
    int start = 0, step = 1;
    if (seed != 0 && n > 1) {
      order_state_ = order_state_ * 6364136223846793005ull + (seed | 1);
      start = static_cast<int>((order_state_ >> 33) % n);
      step = 1 + static_cast<int>((order_state_ >> 13) % (n - 1));
      while (std::gcd(step, n) != 1) step = step % (n - 1) + 1;
    }
    for (int i = 0; i < n && !aborted_; ++i) {
      const int t = static_cast<int>((start + int64_t(i) * step) % n);
      if (threads_[t].state == ThreadState::runnable) resume(t);
    }
    if (aborted_) break;
    int exited = 0, runnable = 0;
    for (const SimThread& th : threads_) {
      exited += th.state == ThreadState::exited;
      runnable += th.state == ThreadState::runnable;
    }
    if (exited == n) break;
    if (runnable > 0) continue;
    if (!release_barrier_or_report()) break;
  }
  tls_runner = outer;
  return !aborted_;
}

// Nobody can run: either every live thread waits at the same barrier (release it) or the block is stuck.
bool BlockRunner::release_barrier_or_report() {
  std::vector<int> at_barrier, at_warp, exited;
  for (int t = 0; t < static_cast<int>(threads_.size()); ++t) {
    switch (threads_[t].state) {
      case ThreadState::at_barrier:
        at_barrier.push_back(t);
        break;
      case ThreadState::at_warp_op:
        at_warp.push_back(t);
        break;
      case ThreadState::exited:
        exited.push_back(t);
        break;
      default:
        break;
    }
  }
  current_ = !at_barrier.empty() ? at_barrier[0] : (!at_warp.empty() ? at_warp[0] : 0);
  std::ostringstream why;
  if (at_warp.empty() && !exited.empty()) {
    why << "__syncthreads reached by " << at_barrier.size() << " threads but " << exited.size()
        << " threads of the block exited without reaching it (first: thread " << thread_name(exited[0])
        << "): a barrier in divergent code";
  } else if (at_warp.empty()) {
    // Which __syncthreads call a thread waits at is not compared: the compiler may duplicate one call into several
    // places (as it may on the GPU, where bar.sync only counts arrivals).
    barrier_count_ = 0;
    for (int t : at_barrier) {
      barrier_count_ += threads_[t].barrier_predicate != 0;
      threads_[t].state = ThreadState::runnable;
    }
    next_interval();
    return true;
  } else {
    const WarpState& w = warps_[threads_[at_warp[0]].warp];
    why << "deadlock: thread " << thread_name(at_warp[0]) << " waits in a warp collective (mask 0x" << std::hex
        << w.mask << ", lanes arrived 0x" << w.arrived << std::dec << ") for lanes that "
        << (at_barrier.empty() ? "exited" : "wait at __syncthreads") << ": a warp collective in divergent code";
  }
  report->fatal(where() + ": " + why.str());
  aborted_ = true;
  return false;
}

void BlockRunner::barrier(int predicate, const void* site) {
  SimThread& me = current();
  me.state = ThreadState::at_barrier;
  me.wait_site = site;
  me.barrier_predicate = predicate;
  yield();
}

uint64_t BlockRunner::warp_collective(WarpOp op, unsigned mask, uint64_t value, int kind, int arg, int width,
                                      const void* site) {
  SimThread& me = current();
  WarpState& w = warps_[me.warp];
  const unsigned bit = 1u << me.lane;
  if (!(mask & bit)) fail("calls a warp collective with a mask (0x" + to_hex(mask) + ") that leaves out its own lane");
  if (mask & ~w.present)
    fail("warp collective mask 0x" + to_hex(mask) + " names lanes this warp does not have (it has 0x" +
         to_hex(w.present) + ")");
  if (width <= 0 || width > 32 || (width & (width - 1)))
    fail("warp shuffle width " + std::to_string(width) + " is not a power of two up to 32");
  if (w.arrived == 0) {
    w.op = op;
    w.mask = mask;
    w.kind = kind;
    w.width = width;
    w.site = site;
  } else if (w.op != op || w.mask != mask || w.kind != kind) {
    fail("lanes of one warp meet in different warp collectives (or with different masks): divergent code");
  }
  w.value[me.lane] = value;
  w.arg[me.lane] = arg;
  w.arrived |= bit;
  if ((w.arrived & w.mask) == w.mask) {
    complete_warp_op(w);
  } else {
    me.state = ThreadState::at_warp_op;
    me.wait_site = site;
    yield();
  }
  return w.result[me.lane];
}

void BlockRunner::complete_warp_op(WarpState& w) {
  unsigned ballot = 0;
  for (int l = 0; l < 32; ++l)
    if ((w.mask >> l & 1u) && w.value[l] != 0) ballot |= 1u << l;
  for (int l = 0; l < 32; ++l) {
    if (!(w.mask >> l & 1u)) continue;
    switch (w.op) {
      case WarpOp::ballot:
        w.result[l] = ballot;
        break;
      case WarpOp::exchange:
        w.exchanged[l] = reinterpret_cast<const void*>(w.value[l]);
        break;
      case WarpOp::shuffle: {
        const int segment = l & ~(w.width - 1);
        int src = l;
        if (w.kind == kShuffleIndex) src = segment + (w.arg[l] & (w.width - 1));
        if (w.kind == kShuffleUp) src = l - w.arg[l] >= segment ? l - w.arg[l] : l;
        if (w.kind == kShuffleDown) src = l + w.arg[l] < segment + w.width ? l + w.arg[l] : l;
        if (w.kind == kShuffleXor) {
          src = l ^ w.arg[l];
          if (src < segment || src >= segment + w.width) src = l;
        }
        if (!(w.mask >> src & 1u))
          fail("warp shuffle reads lane " + std::to_string(src) + ", which is not in the mask");
        w.result[l] = w.value[src];
        break;
      }
      default:
        break;
    }
  }
  if (w.op == WarpOp::exchange)
    for (int l = 0; l < 32; ++l)
      if (!(w.mask >> l & 1u)) w.exchanged[l] = nullptr;
  const int first = threads_[current_].warp * 32;
  for (int l = 0; l < 32; ++l) {
    if ((w.mask >> l & 1u) && first + l < static_cast<int>(threads_.size()) &&
        threads_[first + l].state == ThreadState::at_warp_op)
      threads_[first + l].state = ThreadState::runnable;
  }
  w.arrived = 0;
  w.op = WarpOp::none;
  ++w.epoch;
}

// ---- the built-ins kernels call ----

namespace {
BlockRunner& runner(const char* builtin) {
  if (!tls_runner) ATROUS_FAIL("CUDA simulator: ", builtin, " used outside a kernel");
  return *tls_runner;
}
}  // namespace

uint3 thread_idx() { return runner("threadIdx").current().index; }
uint3 block_idx() { return runner("blockIdx").block_index(); }
dim3 block_dim() { return runner("blockDim").spec().block; }
dim3 grid_dim() { return runner("gridDim").spec().grid; }
void sync_threads() { runner("__syncthreads").barrier(0, __builtin_return_address(0)); }
int sync_threads_count(int predicate) {
  BlockRunner& r = runner("__syncthreads_count");
  r.barrier(predicate, __builtin_return_address(0));
  return r.barrier_count();
}
void sync_warp(unsigned mask) {
  runner("__syncwarp").warp_collective(WarpOp::sync, mask, 0, 0, 0, 32, __builtin_return_address(0));
}
uint64_t warp_shuffle(unsigned mask, uint64_t bits, int kind, int arg, int width) {
  return runner("__shfl_sync")
      .warp_collective(WarpOp::shuffle, mask, bits, kind, arg, width, __builtin_return_address(0));
}
unsigned warp_ballot(unsigned mask, int predicate) {
  return static_cast<unsigned>(
      runner("__ballot_sync")
          .warp_collective(WarpOp::ballot, mask, predicate != 0, 0, 0, 32, __builtin_return_address(0)));
}
void warp_exchange(unsigned mask, const void* mine, const void* (&pointers)[32]) {
  BlockRunner& r = runner("a WMMA operation");
  r.warp_collective(WarpOp::exchange, mask, reinterpret_cast<uint64_t>(mine), 0, 0, 32, __builtin_return_address(0));
  const WarpState& w = r.warp_of_current();
  for (int l = 0; l < 32; ++l) pointers[l] = w.exchanged[l];
}
void yield_for_atomic() {
  if (tls_runner) tls_runner->yield();  // still runnable: the others get a turn, so a spin-wait makes progress
}
void thread_fence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void* dynamic_shared_memory() { return runner("extern __shared__").dynamic_shared(); }

}  // namespace atrous::sim
