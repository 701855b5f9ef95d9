// Helpers shared by the .cu launchers: scratch memory from the caching allocator, warp/block reductions and the
// grid-stride loop (core/cuda/launch.cuh). Device code only sees what this header and cuda_context.h give it.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/device_buffer.h"
#include "core/cuda/launch.cuh"
#include "core/cuda_runtime.h"

namespace atrous::kernels::cuda {

using ::atrous::cuda::kLaunchThreads;
using ::atrous::cuda::launch;
using ::atrous::cuda::launch_1d;
constexpr int kThreads = kLaunchThreads;

// Temporary device memory for one launcher call, returned to the caching allocator on scope exit.
using Scratch = ::atrous::cuda::DeviceBuffer;

template <typename U> __device__ inline U warp_sum(U v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;  // lane 0 holds the sum
}

template <typename U> __device__ inline U warp_max(U v) {
  for (int o = 16; o > 0; o >>= 1) {
    const U other = __shfl_xor_sync(0xffffffffu, v, o);
    v = other > v ? other : v;
  }
  return v;  // every lane holds the max
}

template <typename U> __device__ inline U warp_all_sum(U v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;  // every lane holds the sum, in the same order on every lane
}

// Sum over a block of blockDim.x (a multiple of 32, at most 1024) threads; the result is valid in thread 0.
// The order is fixed by the thread layout, so results are deterministic.
template <typename U> __device__ inline U block_sum(U v, U* shared32) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) shared32[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = static_cast<int>(threadIdx.x) < warps ? shared32[threadIdx.x] : U(0);
  if (warp == 0) v = warp_sum(v);
  __syncthreads();  // shared32 may be reused by the caller
  return v;
}


}  // namespace atrous::kernels::cuda
