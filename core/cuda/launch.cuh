// The one way .cu files launch a kernel (no <<<...>>> anywhere else): checks the configuration against the device's
// limits and names the kernel in every error, opens an NVTX range on a real GPU (so Nsight shows our names), and in
// the simulator (-DATROUS_CUDA_SIM=ON) hands the kernel to the simulated scheduler instead.
//
//   launch("resize_forward_kernel", grid, block, shared_bytes, stream, resize_forward_kernel<T>, x, y, s);
//   launch_1d("relu_kernel", n, device, relu_kernel<T>, x, y, n);  // kThreads-thread blocks covering n items
//
// Arguments are converted to the kernel's parameter types once and every thread receives those values, as a GPU
// passes kernel parameters.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <tuple>
#include <type_traits>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/error.h"

#ifndef ATROUS_CUDA_SIM_ACTIVE
#include <nvtx3/nvToolsExt.h>
// Dynamic shared memory, spelled so the simulator can provide it too (see kernels/cuda/sim/cuda_sim.h).
#define ATROUS_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

namespace atrous::cuda {

constexpr int kLaunchThreads = 256;

#ifdef ATROUS_CUDA_SIM_ACTIVE
// What a simulated launch hands every thread: the kernel and its converted arguments.
template <typename Kernel, typename Params>
struct SimLaunchFrame {
  Kernel kernel;
  Params params;
  static void run(const void* frame) {
    const auto* f = static_cast<const SimLaunchFrame*>(frame);
    std::apply(f->kernel, f->params);
  }
};
#endif

// The limits every CUDA device since compute capability 3.0 has (sm_90 included).
inline void check_launch_config(const char* name, dim3 grid, dim3 block, size_t shared_bytes) {
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  ATROUS_CHECK(threads >= 1 && threads <= 1024 && block.x <= 1024 && block.y <= 1024 && block.z <= 64,
               "CUDA launch of ", name, ": block (", block.x, ",", block.y, ",", block.z, ") has ", threads,
               " threads; a block holds 1 to 1024 (x, y <= 1024, z <= 64)");
  ATROUS_CHECK(grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 2147483647u && grid.y <= 65535 && grid.z <= 65535,
               "CUDA launch of ", name, ": grid (", grid.x, ",", grid.y, ",", grid.z,
               ") is empty or too large (x <= 2^31-1, y and z <= 65535)");
  ATROUS_CHECK(shared_bytes <= 48 * 1024, "CUDA launch of ", name, ": ", shared_bytes,
               " bytes of dynamic shared memory exceed the 48 KiB a kernel gets without opting in");
}

template <typename... Params, typename... Args>
void launch(const char* name, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            void (*kernel)(Params...), Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: argument count differs from the kernel's parameters");
  check_launch_config(name, grid, block, shared_bytes);
#ifdef ATROUS_CUDA_SIM_ACTIVE
  using Frame = SimLaunchFrame<void (*)(Params...), std::tuple<std::decay_t<Params>...>>;
  const Frame frame{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
  ::atrous::sim::run_kernel({name, grid, block, shared_bytes, stream, &frame, sizeof(frame)}, &Frame::run);
#else
  nvtxRangePushA(name);
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  nvtxRangePop();
  ATROUS_CUDA_CHECK_LAUNCH(name);
#endif
}

// Blocks of kLaunchThreads threads covering `items` (a grid-stride loop covers the rest beyond 2^20 blocks), on
// `device`'s stream.
template <typename... Params, typename... Args>
void launch_1d(const char* name, int64_t items, int device, void (*kernel)(Params...), Args&&... args) {
  launch(name, dim3(grid_for(items, kLaunchThreads)), dim3(kLaunchThreads), 0, stream(device), kernel,
         std::forward<Args>(args)...);
}

}  // namespace atrous::cuda

// A grid-stride loop over n items: every thread of the launch takes items i, i + (all threads), ...
#define ATROUS_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)
