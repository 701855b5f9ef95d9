// The simulator's CUDA runtime API, streams and events aside (streams.cpp): settings, devices, device memory (one
// reserved, mprotect'ed heap), pinned memory, copies and memsets. Work runs at once, in the order it is queued; what
// the simulator adds is checking: bad pointers and sizes are errors as on a GPU, and every copy and memset goes
// through the stream-order checker (device_state.h).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "core/error.h"
#include "kernels/cuda/sim/device_state.h"
#include "kernels/cuda/sim/runtime_state.h"
#include "kernels/cuda/sim/sim_settings.h"

// The simulator's own files are not instrumented by AddressSanitizer (they run on fiber stacks); CMake tells them
// when the rest of the build is, so that device memory is poisoned and checked through ASan's interface.
#ifndef ATROUS_SIM_ASAN
#define ATROUS_SIM_ASAN 0
#endif
#if ATROUS_SIM_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace atrous::sim {
namespace {

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : fallback;
}

size_t default_memory_bytes() {
  const size_t host = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return std::min(host / 4, size_t(16) << 30);
}

// Device pointer p lies in an allocation with at least `bytes` from p on: "" when it does, else why not.
std::string allocation_problem(const void* p, size_t bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (!in_heap(a)) return "is not device memory";
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  auto it = st.allocations.upper_bound(a);
  if (it == st.allocations.begin()) return "is not in an allocated device block";
  --it;
  if (a >= it->first + it->second.first) return "is not in an allocated device block";
  if (a + bytes > it->first + it->second.first)
    return "plus " + std::to_string(bytes) + " bytes runs past the end of its device block of " +
           std::to_string(it->second.first) + " bytes";
  return "";
}

void set_protection(State& st, int prot) {
  if (st.high_water) mprotect(reinterpret_cast<void*>(heap().base), st.high_water, prot);
}

}  // namespace

State& state() {
  static State* s = [] {
    auto* st = new State();  // never destroyed: tensors in static storage may free memory after main returns
    const int devices = settings().devices;
    st->used.assign(devices, 0);
    for (int d = 0; d < devices; ++d) {
      auto legacy = std::make_unique<CUstream_st>();
      legacy->id = d;
      legacy->device = d;
      legacy->flags = cudaStreamDefault;
      st->streams.push_back(std::move(legacy));
    }
    return st;
  }();
  return *s;
}

HostThread& this_host_thread() {
  thread_local HostThread thread;
  return thread;
}

cudaError_t fail(cudaError_t error) {
  this_host_thread().last_error = error;
  return error;
}

CUstream_st* resolve(cudaStream_t stream) { return stream ? stream : state().streams[this_host_thread().device].get(); }

bool is_live_stream(cudaStream_t stream) {
  if (!stream) return true;
  State& st = state();
  return stream->id >= 0 && stream->id < static_cast<int>(st.streams.size()) && st.streams[stream->id].get() == stream;
}

void merge(std::vector<uint64_t>& into, const std::vector<uint64_t>& from) {
  if (into.size() < from.size()) into.resize(from.size(), 0);
  for (size_t i = 0; i < from.size(); ++i) into[i] = std::max(into[i], from[i]);
}

const Settings& settings() {
  static const Settings s = [] {
    Settings v;
    v.seed = env_size("ATROUS_SIM_SEED", 1);
    const char* race = std::getenv("ATROUS_SIM_RACECHECK");
    const std::string race_mode = race ? race : "";
    v.race_check = race_mode == "0" || race_mode == "off"   ? RaceCheck::off
                   : race_mode == "all" || race_mode == "2" ? RaceCheck::all
                                                            : RaceCheck::sampled;
    v.memory_bytes = env_size("ATROUS_SIM_MEMORY_MB", 0) << 20;
    if (v.memory_bytes == 0) v.memory_bytes = default_memory_bytes();
    v.devices = static_cast<int>(std::clamp<size_t>(env_size("ATROUS_SIM_DEVICES", 1), 1, 8));
    v.stack_bytes = std::max<size_t>(16, env_size("ATROUS_SIM_STACK_KB", 64)) << 10;
    return v;
  }();
  return s;
}

Heap& heap() {
  static Heap* h = [] {
    auto* hp = new Heap();
    const size_t page = size_t(1) << kPageShift;
    hp->reserved = (settings().memory_bytes * settings().devices + page - 1) / page * page;
    void* base = mmap(nullptr, hp->reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ATROUS_CHECK(base != MAP_FAILED, "CUDA simulator: cannot reserve ", hp->reserved, " bytes for device memory");
    hp->base = reinterpret_cast<uintptr_t>(base);
    const size_t table = (hp->reserved >> kPageShift) * sizeof(uint64_t);
    void* pages = mmap(nullptr, table, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ATROUS_CHECK(pages != MAP_FAILED, "CUDA simulator: cannot reserve the device page table");
    hp->pages = static_cast<std::atomic<uint64_t>*>(pages);
    return hp;
  }();
  return *h;
}

std::string poisoned_description(uintptr_t a, size_t bytes) {
#if ATROUS_SIM_ASAN
  void* bad = __asan_region_is_poisoned(reinterpret_cast<void*>(a), bytes);
  if (!bad) return "";
  return "byte " + std::to_string(reinterpret_cast<uintptr_t>(bad) - a) +
         " of the access is outside every live tensor (past the end of one, or in freed/cached memory)";
#else
  (void)a;
  (void)bytes;
  return "";
#endif
}

std::string check_page_access(const StreamOp& op, uintptr_t a, size_t bytes, bool& fatal) {
  Heap& h = heap();
  fatal = false;
  const size_t first = (a - h.base) >> kPageShift, last = (a + (bytes ? bytes : 1) - 1 - h.base) >> kPageShift;
  for (size_t p = first; p <= last; ++p) {
    const uint64_t e = h.pages[p].load(std::memory_order_relaxed);
    if (e == op.packed) continue;
    if (!(e & kPageAllocated)) {
      fatal = true;
      return "device address 0x" + to_hex(a) + " is not allocated (freed by cudaFree, or never allocated)";
    }
    const int device = static_cast<int>((e >> kDeviceShift) & 7);
    if (device != op.device) {
      fatal = true;
      return "device address 0x" + to_hex(a) + " belongs to cuda:" + std::to_string(device) +
             ", not cuda:" + std::to_string(op.device);
    }
    const int stream = static_cast<int>((e >> kStreamShift) & 0xfff);
    const uint64_t seq = e & kSeqMask;
    if (stream != op.stream && (static_cast<size_t>(stream) >= op.clock.size() || op.clock[stream] < seq)) {
      h.pages[p].store(op.packed, std::memory_order_relaxed);
      return "stream-order hazard: device memory at 0x" + to_hex(a) + " was last used by operation #" +
             std::to_string(seq) + " on stream " + std::to_string(stream) +
             (stream < settings().devices ? " (the legacy default stream)" : "") + ", and this operation on stream " +
             std::to_string(op.stream) +
             " is not ordered after it (no event, stream wait or synchronisation between them)";
    }
    h.pages[p].store(op.packed, std::memory_order_relaxed);
  }
  return "";
}

void check_range(const StreamOp& op, const void* p, size_t bytes, const char* what) {
  if (bytes == 0) return;
  const std::string problem = allocation_problem(p, bytes);
  ATROUS_CHECK(problem.empty(), "CUDA simulator: ", what, ": device pointer 0x", to_hex(reinterpret_cast<uintptr_t>(p)),
               " ", problem);
  bool fatal = false;
  std::string why = check_page_access(op, reinterpret_cast<uintptr_t>(p), bytes, fatal);
  if (why.empty()) why = poisoned_description(reinterpret_cast<uintptr_t>(p), bytes);
  ATROUS_CHECK(why.empty(), "CUDA simulator: ", what, " (", op.name, "): ", why);
}

DeviceMemoryWindow::DeviceMemoryWindow() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (st.windows++ == 0) set_protection(st, PROT_READ | PROT_WRITE);
}

DeviceMemoryWindow::~DeviceMemoryWindow() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (--st.windows == 0) set_protection(st, PROT_NONE);
}

void note_block_in_use(void* ptr, size_t requested, size_t block) {
#if ATROUS_SIM_ASAN
  __asan_unpoison_memory_region(ptr, requested);
  if (block > requested) __asan_poison_memory_region(static_cast<char*>(ptr) + requested, block - requested);
#else
  (void)ptr;
  (void)requested;
  (void)block;
#endif
}

bool checks_exact_extents() { return ATROUS_SIM_ASAN != 0; }

void note_block_cached(void* ptr, size_t block) {
#if ATROUS_SIM_ASAN
  __asan_poison_memory_region(ptr, block);
#else
  (void)ptr;
  (void)block;
#endif
}

}  // namespace atrous::sim

using namespace atrous::sim;

// ---- errors ----

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError:
      return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInitializationError:
      return "initialization error";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorNotReady:
      return "device not ready";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
  }
  return "unknown error";
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = this_host_thread().last_error;
  this_host_thread().last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return this_host_thread().last_error; }

// ---- devices ----

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return fail(cudaErrorInvalidValue);
  *count = settings().devices;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= settings().devices) return fail(cudaErrorInvalidDevice);
  this_host_thread().device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (!device) return fail(cudaErrorInvalidValue);
  *device = this_host_thread().device;
  return cudaSuccess;
}

// ---- memory ----

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  State& st = state();
  Heap& h = heap();
  const size_t page = size_t(1) << kPageShift;
  const size_t rounded = std::max(page, (bytes + page - 1) / page * page);
  std::lock_guard<std::mutex> lock(st.mutex);
  if (st.used[this_host_thread().device] + rounded > settings().memory_bytes) return fail(cudaErrorMemoryAllocation);
  uintptr_t at = 0;
  for (auto it = st.free_ranges.begin(); it != st.free_ranges.end(); ++it) {
    if (it->second < rounded) continue;
    at = it->first;
    const size_t rest = it->second - rounded;
    st.free_ranges.erase(it);
    if (rest) st.free_ranges[at + rounded] = rest;
    break;
  }
  if (!at) {
    if (st.high_water + rounded > h.reserved) return fail(cudaErrorMemoryAllocation);
    at = h.base + st.high_water;
    st.high_water += rounded;
    if (st.windows > 0) mprotect(reinterpret_cast<void*>(at), rounded, PROT_READ | PROT_WRITE);
  }
  st.allocations[at] = {bytes, this_host_thread().device};
  st.used[this_host_thread().device] += rounded;
  for (size_t p = (at - h.base) >> kPageShift; p < (at + rounded - h.base) >> kPageShift; ++p)
    h.pages[p].store(pack_page(this_host_thread().device, this_host_thread().device, 0), std::memory_order_relaxed);
  note_block_in_use(reinterpret_cast<void*>(at), bytes, rounded);
  *ptr = reinterpret_cast<void*>(at);
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  State& st = state();
  Heap& h = heap();
  std::lock_guard<std::mutex> lock(st.mutex);
  const auto a = reinterpret_cast<uintptr_t>(ptr);
  auto it = st.allocations.find(a);
  if (it == st.allocations.end()) return fail(cudaErrorInvalidValue);
  // cudaFree waits for the device: the host has seen all of this device's work complete.
  for (auto& s : st.streams)
    if (s && s->device == it->second.second) merge(this_host_thread().clock, s->clock);
  const size_t page = size_t(1) << kPageShift;
  const size_t rounded = std::max(page, (it->second.first + page - 1) / page * page);
  st.used[it->second.second] -= rounded;
  st.allocations.erase(it);
  for (size_t p = (a - h.base) >> kPageShift; p < (a + rounded - h.base) >> kPageShift; ++p)
    h.pages[p].store(0, std::memory_order_relaxed);
  note_block_cached(ptr, rounded);
  madvise(ptr, rounded, MADV_DONTNEED);  // give the host its memory back
  auto next = st.free_ranges.emplace(a, rounded).first;
  if (auto after = std::next(next); after != st.free_ranges.end() && next->first + next->second == after->first) {
    next->second += after->second;
    st.free_ranges.erase(after);
  }
  if (next != st.free_ranges.begin()) {
    auto before = std::prev(next);
    if (before->first + before->second == next->first) {
      before->second += next->second;
      st.free_ranges.erase(next);
    }
  }
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  *ptr = std::aligned_alloc(4096, std::max<size_t>(4096, (bytes + 4095) / 4096 * 4096));
  if (!*ptr) return fail(cudaErrorMemoryAllocation);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  st.pinned.insert(*ptr);
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    if (!st.pinned.erase(ptr)) return fail(cudaErrorInvalidValue);
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (!free_bytes || !total_bytes) return fail(cudaErrorInvalidValue);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  *total_bytes = settings().memory_bytes;
  *free_bytes = settings().memory_bytes - st.used[this_host_thread().device];
  return cudaSuccess;
}

// ---- copies and memsets: run at once, checked as stream operations ----

namespace {

bool host_side(const void* p) { return !in_heap(reinterpret_cast<uintptr_t>(p)); }

// The direction the pointers say, checked against the one the caller named.
cudaError_t copy_now(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream,
                     const char* call, bool synchronous) {
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return fail(cudaErrorInvalidValue);
  const bool dst_host = host_side(dst), src_host = host_side(src);
  cudaMemcpyKind actual = dst_host ? (src_host ? cudaMemcpyHostToHost : cudaMemcpyDeviceToHost)
                                   : (src_host ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice);
  if (kind != cudaMemcpyDefault && kind != actual) return fail(cudaErrorInvalidValue);
  StreamOp op = begin_op(stream, call);
  DeviceMemoryWindow window;
  if (!src_host) check_range(op, src, bytes, call);
  if (!dst_host) check_range(op, dst, bytes, call);
  std::memmove(dst, src, bytes);
  if (synchronous) merge(this_host_thread().clock, op.clock);
  return cudaSuccess;
}

cudaError_t memset_now(void* ptr, int value, size_t bytes, cudaStream_t stream, const char* call) {
  if (bytes == 0) return cudaSuccess;
  if (!ptr || host_side(ptr)) return fail(cudaErrorInvalidValue);
  StreamOp op = begin_op(stream, call);
  DeviceMemoryWindow window;
  check_range(op, ptr, bytes, call);
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}

}  // namespace

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return copy_now(dst, src, bytes, kind, nullptr, "cudaMemcpy", true);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  return copy_now(dst, src, bytes, kind, stream, "cudaMemcpyAsync", false);
}
cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, size_t bytes,
                                cudaStream_t stream) {
  if (dst_device < 0 || dst_device >= settings().devices || src_device < 0 || src_device >= settings().devices)
    return fail(cudaErrorInvalidDevice);
  if (bytes == 0) return cudaSuccess;
  if (host_side(dst) || host_side(src)) return fail(cudaErrorInvalidValue);
  StreamOp op = begin_op(stream, "cudaMemcpyPeerAsync");
  DeviceMemoryWindow window;
  StreamOp src_op = op;
  src_op.device = src_device;
  src_op.packed = pack_page(src_device, op.stream, op.seq);
  check_range(src_op, src, bytes, "cudaMemcpyPeerAsync source");
  StreamOp dst_op = op;
  dst_op.device = dst_device;
  dst_op.packed = pack_page(dst_device, op.stream, op.seq);
  check_range(dst_op, dst, bytes, "cudaMemcpyPeerAsync destination");
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  const cudaError_t e = memset_now(ptr, value, bytes, nullptr, "cudaMemset");
  if (e == cudaSuccess) cudaStreamSynchronize(nullptr);  // cudaMemset is synchronous for the host
  return e;
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
  return memset_now(ptr, value, bytes, stream, "cudaMemsetAsync");
}

