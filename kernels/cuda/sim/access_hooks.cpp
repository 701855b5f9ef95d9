// Every load and store of the simulated .cu files lands here. Those files are compiled with GCC's ThreadSanitizer
// instrumentation (-fsanitize=thread), which calls __tsan_read4(addr) and friends around each access; the
// simulator supplies those functions itself (libtsan is never linked) and checks, for code running in a simulated
// thread:
// - shared memory (the host thread's TLS block for __shared__ variables, or the launch's dynamic shared memory):
//   a race checker in the spirit of compute-sanitizer's racecheck. Per 4-byte word it keeps the last writer and the
//   readers of the current barrier interval; a write and another thread's read or write of the same word in one
//   interval, with no __syncthreads between them (or __syncwarp / a warp collective, for lanes of one warp), is a
//   hazard naming kernel, block, both threads, the address and both code locations. A read of a word no thread of
//   the block has written is an uninitialised read.
// - device memory: the address must lie in an allocated block of the launch's device (else the block stops, as
//   with an illegal address on a GPU), in AddressSanitizer builds inside a live tensor's exact extent, and the
//   launch's stream must be ordered after the last user of the page (device_state.h).
// - any other address (not a fiber stack): host memory a kernel must not touch.
// Outside simulated threads (host code in the .cu files) the hooks return at once.
#include <dlfcn.h>

#include <cstdint>
#include <string>

#include "kernels/cuda/sim/block_runner.h"
#include "kernels/cuda/sim/device_state.h"
#include "kernels/cuda/sim/sim_settings.h"

namespace atrous::sim {
namespace {

std::string describe_pc(const void* pc) {
  Dl_info info;
  if (pc && dladdr(pc, &info) && info.dli_fname) {
    std::string out = std::string(info.dli_fname) + "+0x" +
                      to_hex(reinterpret_cast<uintptr_t>(pc) - reinterpret_cast<uintptr_t>(info.dli_fbase));
    if (info.dli_sname) out += " (" + std::string(info.dli_sname) + ")";
    return out;
  }
  return "0x" + to_hex(reinterpret_cast<uintptr_t>(pc));
}

// Lanes of one warp that have met in a warp collective since the other access are ordered.
bool synchronised(const BlockRunner& r, uint32_t other, uint32_t other_epoch, int my_warp) {
  return r.warp_of(other) == my_warp && other_epoch != r.warp_epoch(my_warp);
}

void hazard(BlockRunner& r, const char* kind, uintptr_t a, uint32_t other, const void* other_pc, const char* other_did,
            const char* i_do, const void* pc) {
  if (!r.report->wants_more()) return;
  r.report->hazard(std::string(kind) + " on shared memory in " + r.where() + ": thread " + r.thread_name(other) + " " +
                   other_did + " address 0x" + to_hex(a) + " at " + describe_pc(other_pc) + " and this thread " + i_do +
                   " it at " + describe_pc(pc) + " with no __syncthreads between them");
}

void shared_access(BlockRunner& r, std::vector<ShadowWord>& shadow, uintptr_t base, uintptr_t offset, size_t n,
                   bool write, const void* pc) {
  const auto t = static_cast<uint32_t>(r.current_index());
  const int warp = r.warp_of(t);
  const uint32_t epoch = r.warp_epoch(warp);
  for (uintptr_t w = offset >> 2; w <= (offset + n - 1) >> 2; ++w) {
    ShadowWord& s = shadow[w];
    // The common case, a word many threads read after a barrier: nothing to report or record.
    if (!write && s.read_interval == r.interval && s.reader == kManyReaders && s.written_block == r.block_serial &&
        (s.write_interval != r.interval || s.writer == t))
      continue;
    const uintptr_t a = base + (w << 2);
    if (write) {
      if (s.write_interval == r.interval && s.writer != t && !synchronised(r, s.writer, s.writer_epoch, warp))
        hazard(r, "write-after-write race", a, s.writer, s.writer_pc, "wrote", "writes", pc);
      if (s.read_interval == r.interval && s.reader != t &&
          (s.reader == kManyReaders || !synchronised(r, s.reader, s.reader_epoch, warp)))
        hazard(r, "write-after-read race", a, s.reader == kManyReaders ? t : s.reader, s.reader_pc,
               s.reader == kManyReaders ? "(and others) read" : "read", "writes", pc);
      s.write_interval = r.interval;
      s.writer = t;
      s.writer_epoch = epoch;
      s.writer_pc = pc;
      s.written_block = r.block_serial;
    } else {
      if (s.written_block != r.block_serial) {
        if (r.report->wants_more())
          r.report->hazard("uninitialised read of shared memory in " + r.where() + ": address 0x" + to_hex(a) + " at " +
                           describe_pc(pc) + " was not written by any thread of this block");
      } else if (s.write_interval == r.interval && s.writer != t && !synchronised(r, s.writer, s.writer_epoch, warp)) {
        hazard(r, "read-after-write race", a, s.writer, s.writer_pc, "wrote", "reads", pc);
      }
      if (s.read_interval != r.interval) {
        s.read_interval = r.interval;
        s.reader = t;
        s.reader_epoch = epoch;
        s.reader_pc = pc;
      } else if (s.reader != t) {
        s.reader = kManyReaders;
      }
    }
  }
}

void global_access(BlockRunner& r, uintptr_t a, size_t n, bool write, const void* pc) {
  if (!in_heap(a)) {
    r.fail(std::string(write ? "writes" : "reads") + " host memory at 0x" + to_hex(a) + " (" + describe_pc(pc) +
           "): a kernel may only touch device memory");
  }
  const StreamOp& op = *r.op;
  const uint64_t page = heap().pages[(a - heap().base) >> kPageShift].load(std::memory_order_relaxed);
  if (page != op.packed || ((a ^ (a + n - 1)) >> kPageShift)) {
    bool fatal = false;
    const std::string why = check_page_access(op, a, n, fatal);
    if (fatal)
      r.fail(std::string(write ? "writes " : "reads ") + std::to_string(n) + " bytes at " + describe_pc(pc) + ": " +
             why);
    if (!why.empty() && r.report->wants_more()) r.report->hazard(r.where() + " at " + describe_pc(pc) + ": " + why);
  }
  const std::string poisoned = poisoned_description(a, n);
  if (!poisoned.empty())
    r.fail("invalid " + std::string(write ? "write" : "read") + " of " + std::to_string(n) +
           " bytes at device address 0x" + to_hex(a) + " (" + describe_pc(pc) + "): " + poisoned);
}

inline void on_access(void* p, size_t n, bool write, const void* pc) {
  BlockRunner* r = tls_runner;
  if (!r) return;
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (a - r->shared_lo < r->shared_size) {
    if (r->race_check) shared_access(*r, r->static_shadow, r->shared_lo, a - r->shared_lo, n, write, pc);
    return;
  }
  if (a - r->dynamic_lo < r->dynamic_size) {
    if (a + n > r->dynamic_lo + r->dynamic_size)
      r->fail("accesses past the end of its " + std::to_string(r->dynamic_size) + " bytes of dynamic shared memory");
    if (r->race_check) shared_access(*r, r->dynamic_shadow, r->dynamic_lo, a - r->dynamic_lo, n, write, pc);
    return;
  }
  if (a - r->stacks_lo < r->stacks_size) return;  // a thread's own locals (or a WMMA lane's fragment)
  if (a - r->params_lo < r->params_size) {
    if (write) r->fail("writes into the launch's kernel arguments (parameter space is read-only)");
    return;
  }
  global_access(*r, a, n, write, pc);
}

}  // namespace
}  // namespace atrous::sim

using atrous::sim::on_access;

#define ATROUS_SIM_HOOKS(N)                                                                                  \
  extern "C" void __tsan_read##N(void* p) { on_access(p, N, false, __builtin_return_address(0)); }           \
  extern "C" void __tsan_write##N(void* p) { on_access(p, N, true, __builtin_return_address(0)); }           \
  extern "C" void __tsan_unaligned_read##N(void* p) { on_access(p, N, false, __builtin_return_address(0)); } \
  extern "C" void __tsan_unaligned_write##N(void* p) { on_access(p, N, true, __builtin_return_address(0)); } \
  extern "C" void __tsan_volatile_read##N(void* p) { on_access(p, N, false, __builtin_return_address(0)); }  \
  extern "C" void __tsan_volatile_write##N(void* p) { on_access(p, N, true, __builtin_return_address(0)); }
ATROUS_SIM_HOOKS(1)
ATROUS_SIM_HOOKS(2)
ATROUS_SIM_HOOKS(4)
ATROUS_SIM_HOOKS(8)
ATROUS_SIM_HOOKS(16)
#undef ATROUS_SIM_HOOKS

extern "C" void __tsan_read_range(void* p, size_t n) {
  if (n) on_access(p, n, false, __builtin_return_address(0));
}
extern "C" void __tsan_write_range(void* p, size_t n) {
  if (n) on_access(p, n, true, __builtin_return_address(0));
}
extern "C" void __tsan_init() {}
extern "C" void __tsan_func_entry(void*) {}
extern "C" void __tsan_func_exit() {}
extern "C" void __tsan_vptr_update(void**, void*) {}
extern "C" void __tsan_vptr_read(void**) {}

// Atomics in instrumented code (the simulator's atomicAdd & co., std::atomic in the launchers): done for real, the
// address checked like any other access (but not race-checked: atomics do not race with each other).
extern "C" void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
extern "C" void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

namespace {
template <typename T>
void check_atomic(volatile T* p) {
  atrous::sim::BlockRunner* r = atrous::sim::tls_runner;
  const auto a = reinterpret_cast<uintptr_t>(const_cast<T*>(p));
  if (r && !(a - r->shared_lo < r->shared_size) && !(a - r->dynamic_lo < r->dynamic_size) &&
      !(a - r->stacks_lo < r->stacks_size))
    atrous::sim::global_access(*r, a, sizeof(T), true, __builtin_return_address(0));
}
}  // namespace

#define ATROUS_SIM_ATOMICS(N, T)                                                                  \
  extern "C" T __tsan_atomic##N##_load(const volatile T* a, int) {                                \
    check_atomic(const_cast<volatile T*>(a));                                                     \
    return __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                  \
  }                                                                                               \
  extern "C" void __tsan_atomic##N##_store(volatile T* a, T v, int) {                             \
    check_atomic(a);                                                                              \
    __atomic_store_n(a, v, __ATOMIC_SEQ_CST);                                                     \
  }                                                                                               \
  extern "C" T __tsan_atomic##N##_exchange(volatile T* a, T v, int) {                             \
    check_atomic(a);                                                                              \
    return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                           \
  }                                                                                               \
  extern "C" T __tsan_atomic##N##_fetch_add(volatile T* a, T v, int) {                            \
    check_atomic(a);                                                                              \
    return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);                                            \
  }                                                                                               \
  extern "C" T __tsan_atomic##N##_fetch_sub(volatile T* a, T v, int) {                            \
    check_atomic(a);                                                                              \
    return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST);                                            \
  }                                                                                               \
  extern "C" T __tsan_atomic##N##_fetch_and(volatile T* a, T v, int) {                            \
    check_atomic(a);                                                                              \
    return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST);                                            \
  }                                                                                               \
  extern "C" T __tsan_atomic##N##_fetch_or(volatile T* a, T v, int) {                             \
    check_atomic(a);                                                                              \
    return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST);                                             \
  }                                                                                               \
  extern "C" T __tsan_atomic##N##_fetch_xor(volatile T* a, T v, int) {                            \
    check_atomic(a);                                                                              \
    return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST);                                            \
  }                                                                                               \
  extern "C" T __tsan_atomic##N##_fetch_nand(volatile T* a, T v, int) {                           \
    check_atomic(a);                                                                              \
    return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST);                                           \
  }                                                                                               \
  extern "C" int __tsan_atomic##N##_compare_exchange_strong(volatile T* a, T* c, T v, int, int) { \
    check_atomic(a);                                                                              \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);       \
  }                                                                                               \
  extern "C" int __tsan_atomic##N##_compare_exchange_weak(volatile T* a, T* c, T v, int, int) {   \
    check_atomic(a);                                                                              \
    return __atomic_compare_exchange_n(a, c, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);        \
  }                                                                                               \
  extern "C" T __tsan_atomic##N##_compare_exchange_val(volatile T* a, T c, T v, int, int) {       \
    check_atomic(a);                                                                              \
    __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);             \
    return c;                                                                                     \
  }
ATROUS_SIM_ATOMICS(8, char)
ATROUS_SIM_ATOMICS(16, short)
ATROUS_SIM_ATOMICS(32, int)
ATROUS_SIM_ATOMICS(64, long)
#undef ATROUS_SIM_ATOMICS
