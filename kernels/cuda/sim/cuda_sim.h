// The CUDA simulator's device-side and runtime API (-DATROUS_CUDA_SIM=ON): the project's .cu files are compiled by
// the host C++ compiler against this header (reached through the shadow cuda_runtime.h, cublas_v2.h and mma.h in
// include/ next to it), so the very kernels and launchers that run on a GPU run here on the CPU.
//
// How it maps CUDA onto the host (kernels/cuda/sim/NOTES.md has the whole picture):
// - a kernel is a plain function; a launch (core/cuda/launch.cuh) hands it to sim::run_kernel, which runs the
//   grid's blocks on OpenMP threads and each block's threads as fibers, so __syncthreads, warp shuffles, votes and
//   atomics are real scheduling points and behave as on the device;
// - __shared__ variables are thread_local statics: one copy per host thread, and a host thread runs one block at a
//   time, so each block sees its own shared memory;
// - threadIdx & co. are calls into the scheduler (out of line: kernel code never touches the simulator's own state);
// - every load and store of kernel code is instrumented (the .cu files are compiled with GCC's -fsanitize=thread
//   instrumentation, whose hooks are ours, in access_hooks.cpp): shared-memory races and uninitialised reads,
//   out-of-bounds and freed device memory (with AddressSanitizer), host memory and cross-stream use are reported.
#pragma once
#include <math.h>  // the float overloads of exp, log, sqrt... in the global namespace, as device code has them

#include <cstddef>
#include <cstdint>
#include <cstring>

// ---- keywords ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static thread_local
#define ATROUS_CUDA_SIM_ACTIVE 1

// ---- vector types ----
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(16) double2 {
  double x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
constexpr int warpSize = 32;

// ---- the runtime API subset the project uses ----
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
struct CUstream_st;
struct CUevent_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;
constexpr unsigned cudaStreamDefault = 0, cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDefault = 0, cudaEventBlockingSync = 1, cudaEventDisableTiming = 2;

const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, size_t bytes,
                                cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* ptr, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

namespace atrous::sim {

// ---- what kernels see: the scheduler's answers for the calling simulated thread ----
uint3 thread_idx();
uint3 block_idx();
dim3 block_dim();
dim3 grid_dim();
void sync_threads();                    // __syncthreads
int sync_threads_count(int predicate);  // __syncthreads_count
void sync_warp(unsigned mask);          // __syncwarp
uint64_t warp_shuffle(unsigned mask, uint64_t bits, int kind, int arg, int width);
unsigned warp_ballot(unsigned mask, int predicate);
void yield_for_atomic();        // an atomic is a scheduling point (spin-waits progress)
void thread_fence();            // __threadfence: a full host memory fence
void* dynamic_shared_memory();  // extern __shared__, see ATROUS_DYNAMIC_SHARED
// A warp-collective exchange of one pointer per lane: on return pointers[l] holds lane l's (lanes outside mask: null).
// Used by the WMMA emulation; a second call after the lanes are done reading keeps later writes out of the exchange.
void warp_exchange(unsigned mask, const void* mine, const void* (&pointers)[32]);

enum ShuffleKind { kShuffleIndex = 0, kShuffleUp = 1, kShuffleDown = 2, kShuffleXor = 3 };

template <typename T>
T shuffle(unsigned mask, T value, int kind, int arg, int width) {
  static_assert(sizeof(T) <= 8, "warp shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = warp_shuffle(mask, bits, kind, arg, width);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

// ---- launches (core/cuda/launch.cuh calls this) ----
struct LaunchSpec {
  const char* name;
  dim3 grid, block;
  size_t dynamic_shared_bytes;
  cudaStream_t stream;
  const void* params;  // the kernel and its argument values, which each thread reads (the GPU's parameter space)
  size_t params_bytes;
};
// Runs `entry(spec.params)` as every thread of the grid. A plain function pointer and one parameter block, so that
// the only memory a thread reads to start is the parameter block itself.
void run_kernel(const LaunchSpec& spec, void (*entry)(const void* params));

// ---- hooks for the caching allocator: exact tensor extents, so a read past a tensor or of a freed block is caught
// (ASan builds) even though the cache hands out rounded blocks ----
void note_block_in_use(void* ptr, size_t requested_bytes, size_t block_bytes);
void note_block_cached(void* ptr, size_t block_bytes);
bool checks_exact_extents();  // true in AddressSanitizer builds

// True in this build: lets `atrous info` and tests say that CUDA is simulated.
constexpr bool kIsSimulator = true;

}  // namespace atrous::sim

// ---- device built-ins ----
#define threadIdx (::atrous::sim::thread_idx())
#define blockIdx (::atrous::sim::block_idx())
#define blockDim (::atrous::sim::block_dim())
#define gridDim (::atrous::sim::grid_dim())

inline void __syncthreads() { ::atrous::sim::sync_threads(); }
inline int __syncthreads_count(int predicate) { return ::atrous::sim::sync_threads_count(predicate); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::atrous::sim::sync_warp(mask); }
inline void __threadfence() { ::atrous::sim::thread_fence(); }
inline void __threadfence_block() { ::atrous::sim::thread_fence(); }

template <typename T>
T __shfl_sync(unsigned mask, T v, int lane, int width = 32) {
  return ::atrous::sim::shuffle(mask, v, ::atrous::sim::kShuffleIndex, lane, width);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::atrous::sim::shuffle(mask, v, ::atrous::sim::kShuffleUp, static_cast<int>(delta), width);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::atrous::sim::shuffle(mask, v, ::atrous::sim::kShuffleDown, static_cast<int>(delta), width);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  return ::atrous::sim::shuffle(mask, v, ::atrous::sim::kShuffleXor, lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) { return ::atrous::sim::warp_ballot(mask, predicate); }
inline int __any_sync(unsigned mask, int predicate) { return ::atrous::sim::warp_ballot(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
  return (::atrous::sim::warp_ballot(mask, predicate) & mask) == mask;
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz(static_cast<unsigned>(v)); }

// Atomics: real host atomics (blocks run on several host threads), each one a scheduling point.
#define ATROUS_SIM_ATOMIC(name, op)                     \
  template <typename T>                                 \
  T name(T* address, T value) {                         \
    const T old = op(address, value, __ATOMIC_SEQ_CST); \
    ::atrous::sim::yield_for_atomic();                  \
    return old;                                         \
  }
ATROUS_SIM_ATOMIC(atomicAdd, __atomic_fetch_add)
ATROUS_SIM_ATOMIC(atomicSub, __atomic_fetch_sub)
ATROUS_SIM_ATOMIC(atomicExch, __atomic_exchange_n)
ATROUS_SIM_ATOMIC(atomicAnd, __atomic_fetch_and)
ATROUS_SIM_ATOMIC(atomicOr, __atomic_fetch_or)
#undef ATROUS_SIM_ATOMIC
template <typename T>
T atomicCAS(T* address, T compare, T value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  ::atrous::sim::yield_for_atomic();
  return compare;  // the old value either way
}
// Floating-point atomicAdd by compare-and-swap (the host has no atomic float add).
template <typename T>
T atomic_float_add(T* address, T value) {
  T old;
  __atomic_load(address, &old, __ATOMIC_SEQ_CST);
  T desired;
  do {
    desired = old + value;
  } while (!__atomic_compare_exchange(address, &old, &desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
  ::atrous::sim::yield_for_atomic();
  return old;
}
inline float atomicAdd(float* address, float value) { return atomic_float_add(address, value); }
inline double atomicAdd(double* address, double value) { return atomic_float_add(address, value); }
template <typename T>
T atomicMax(T* address, T value) {
  T old = __atomic_load_n(address, __ATOMIC_SEQ_CST);
  while (old < value && !__atomic_compare_exchange_n(address, &old, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  ::atrous::sim::yield_for_atomic();
  return old;
}
template <typename T>
T atomicMin(T* address, T value) {
  T old = __atomic_load_n(address, __ATOMIC_SEQ_CST);
  while (old > value && !__atomic_compare_exchange_n(address, &old, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  ::atrous::sim::yield_for_atomic();
  return old;
}

// ---- math intrinsics: the exact host functions (the device's fast approximations are within their error) ----
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline int __float_as_int(float f) {
  int v;
  std::memcpy(&v, &f, 4);
  return v;
}
inline float __ldg(const float* p) { return *p; }
inline double __ldg(const double* p) { return *p; }

// Dynamic shared memory: `extern __shared__ T name[]` cannot be spelled with a macro keyword, so .cu files declare it
// with ATROUS_DYNAMIC_SHARED (core/cuda/launch.cuh gives the CUDA spelling).
#define ATROUS_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::atrous::sim::dynamic_shared_memory())
