// Test-only CUDA kernels, see test_kernels.h. Compiled like the library's .cu files: by nvcc in CUDA builds, by the
// host compiler against the simulator in simulator builds.
#include "kernels/cuda/common.cuh"
#include "tests/cuda/test_kernels.h"

namespace atrous::testing::cuda_kernels {
namespace {

using ::atrous::cuda::launch;
using ::atrous::cuda::launch_1d;
constexpr unsigned kFull = 0xffffffffu;

cudaStream_t device_stream() { return atrous::cuda::stream(0); }

__global__ void block_sums_kernel(const float* x, float* out, bool with_barrier) {
  __shared__ float partial[256];
  partial[threadIdx.x] = x[blockIdx.x * 256 + threadIdx.x];
  __syncthreads();
  for (int half = 128; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    if (with_barrier) __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

__global__ void store_kernel(float* y, int64_t count) { ATROUS_GRID_STRIDE(i, count) y[i] = 1.0f; }

__global__ void divergent_barrier_kernel(float* y) {
  if (threadIdx.x < 32) __syncthreads();
  y[threadIdx.x] = 1.0f;
}

__global__ void divergent_shuffle_kernel(float* y) {
  if (threadIdx.x % 32 >= 16) return;
  y[threadIdx.x] = __shfl_down_sync(kFull, 1.0f, 1);
}

__global__ void read_kernel(const float* from, float* y) { y[threadIdx.x] = from[threadIdx.x]; }

__global__ void uninitialised_kernel(float* y) {
  __shared__ float mostly_unwritten[64];
  if (threadIdx.x == 0) mostly_unwritten[0] = 1.0f;  // words 1..63 are never written
  __syncthreads();
  y[threadIdx.x] = mostly_unwritten[threadIdx.x];
}

__global__ void reverse_kernel(const float* x, float* y, int n, bool with_barrier) {
  ATROUS_DYNAMIC_SHARED(float, buffer);
  const int t = threadIdx.x;
  buffer[t] = x[blockIdx.x * n + t];
  if (with_barrier) __syncthreads();
  y[blockIdx.x * n + t] = buffer[n - 1 - t];
}

__global__ void warp_primitives_kernel(const int32_t* x, int32_t* out) {
  __shared__ int32_t neighbours[64];
  const int l = threadIdx.x, lane = l % 32;
  const int32_t v = x[l];
  int32_t* o = out + l * 8;
  o[0] = __shfl_down_sync(kFull, v, 1);
  o[1] = __shfl_up_sync(kFull, v, 2);
  o[2] = __shfl_xor_sync(kFull, v, 5);
  o[3] = __shfl_sync(kFull, v, 3, 8);
  o[4] = static_cast<int32_t>(__ballot_sync(kFull, v & 1));
  o[5] = __any_sync(kFull, v > 100);
  o[6] = __all_sync(kFull, v >= 0);
  neighbours[l] = v;
  __syncwarp();  // orders the lanes' writes before their neighbours' reads: no race
  o[7] = neighbours[l - lane + (lane + 1) % 32];
}

__global__ void atomic_count_kernel(int32_t* counter) { atomicAdd(counter, 1); }

__global__ void spin_handoff_kernel(int32_t* flag, int32_t* out) {
  if (threadIdx.x == 1) {
    out[0] = 41;
    __threadfence();
    atomicExch(flag, 1);
  } else if (threadIdx.x == 0) {
    while (atomicAdd(flag, 0) == 0) {
    }
    __threadfence();
    out[1] = out[0] + 1;
  }
}

__global__ void trivial_kernel(float* y) {
  if (threadIdx.x == 0) y[0] = 1.0f;
}

__global__ void fill_kernel(float* y, int64_t n, float value) { ATROUS_GRID_STRIDE(i, n) y[i] = value; }

}  // namespace

void block_sums(const float* x, float* out, int blocks, bool with_barrier) {
  launch("block_sums_kernel", dim3(blocks), dim3(256), 0, device_stream(), block_sums_kernel, x, out, with_barrier);
}
void store_one_past_the_end(float* y, int64_t n) { launch_1d("store_kernel", n + 1, 0, store_kernel, y, n + 1); }
void divergent_barrier(float* y) {
  launch("divergent_barrier_kernel", dim3(1), dim3(64), 0, device_stream(), divergent_barrier_kernel, y);
}
void divergent_shuffle(float* y) {
  launch("divergent_shuffle_kernel", dim3(1), dim3(32), 0, device_stream(), divergent_shuffle_kernel, y);
}
void read_host_pointer(const float* host, float* y) {
  launch("read_kernel", dim3(1), dim3(4), 0, device_stream(), read_kernel, host, y);
}
void uninitialised_shared_read(float* y) {
  launch("uninitialised_kernel", dim3(1), dim3(64), 0, device_stream(), uninitialised_kernel, y);
}
void reverse_in_dynamic_shared(const float* x, float* y, int n, bool with_barrier) {
  launch("reverse_kernel", dim3(2), dim3(n), n * sizeof(float), device_stream(), reverse_kernel, x, y, n, with_barrier);
}
void warp_primitives(const int32_t* x, int32_t* out) {
  launch("warp_primitives_kernel", dim3(1), dim3(64), 0, device_stream(), warp_primitives_kernel, x, out);
}
void atomic_count(int32_t* counter, int blocks) {
  launch("atomic_count_kernel", dim3(blocks), dim3(256), 0, device_stream(), atomic_count_kernel, counter);
}
void spin_handoff(int32_t* flag, int32_t* out) {
  launch("spin_handoff_kernel", dim3(1), dim3(64), 0, device_stream(), spin_handoff_kernel, flag, out);
}
void launch_with_block(int threads, float* y) {
  launch("trivial_kernel", dim3(1), dim3(threads), 0, device_stream(), trivial_kernel, y);
}
void fill_on_stream(float* y, int64_t n, float value, void* stream) {
  launch("fill_kernel", dim3(atrous::cuda::grid_for(n, 256)), dim3(256), 0,
         stream ? static_cast<cudaStream_t>(stream) : device_stream(), fill_kernel, y, n, value);
}

void* create_stream() {
  cudaStream_t s = nullptr;
  ATROUS_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}
void destroy_stream(void* stream) {
  ATROUS_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));  // later work may reuse its memory
  ATROUS_CUDA_CHECK(cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
}
void make_wait(void* waiting_stream, void* recorded_stream) {
  cudaEvent_t event = nullptr;
  ATROUS_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  ATROUS_CUDA_CHECK(cudaEventRecord(event, static_cast<cudaStream_t>(recorded_stream)));
  ATROUS_CUDA_CHECK(cudaStreamWaitEvent(static_cast<cudaStream_t>(waiting_stream), event, 0));
  ATROUS_CUDA_CHECK(cudaEventDestroy(event));
}

}  // namespace atrous::testing::cuda_kernels
