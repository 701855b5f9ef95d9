// Per-device CUDA state shared by every launcher: the device's one stream (all kernels, copies and cuBLAS calls are
// ordered on it, which is what lets the caching allocator reuse a freed block at once) and its cuBLAS handle.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace atrous::cuda {

// Makes `device` current for the calling thread and returns its stream (created on first use, never destroyed:
// tensors in static storage may free memory after main returns).
cudaStream_t stream(int device);
// The device's cuBLAS handle, bound to stream(device), pointer mode host, default (full fp32) math.
cublasHandle_t cublas_handle(int device);
// The device of the calling thread's current context.
int current_device();

// Blocks of `threads` threads covering n items, capped so that grid-stride loops cover the rest.
inline unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = int64_t(1) << 20;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

}  // namespace atrous::cuda
