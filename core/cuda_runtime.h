// The CUDA runtime services core needs: device memory (a caching allocator), copies staged through pinned host
// memory, and synchronisation. Implemented in core/cuda/cuda_runtime.cu and cuda_allocator.cu when the build has
// CUDA, and by stubs that throw a clear error otherwise, so core never includes CUDA headers.
#pragma once
#include <cstddef>

#include "core/allocator.h"

namespace atrous::cuda {

bool built_with_cuda();
// True when CUDA is the project's simulator (-DATROUS_CUDA_SIM=ON): the CUDA kernels run on the CPU, checked for
// races and bad addresses (kernels/cuda/sim/NOTES.md), not on a GPU.
bool is_simulator();
// True in the simulator's AddressSanitizer build: kernels are checked against each tensor's exact extent and freed
// blocks (otherwise only against whole allocated pages).
bool simulator_checks_exact_extents();
int device_count();  // 0 when built without CUDA or no device is visible

// Device memory from the caching allocator: freed blocks stay in per-size-class pools and are reused without
// cudaFree. All work is ordered on the device's one stream, so a block freed while a queued kernel still reads it
// can be handed to later work on that stream at once. Out of memory: the cache is released and the allocation
// retried once; then atrous::Error names the size, what is in use and cached, and the device's free memory.
void* allocate(size_t bytes, int device);
void free(void* ptr, size_t bytes, int device);
AllocatorStats allocator_stats(int device);
void release_cached_memory(int device);  // returns every cached block to the driver (synchronises the device)

// device -1 means host memory. Host<->device copies of pageable memory go through pinned staging buffers; the call
// returns once the source may be reused (host->device) or the destination holds the data (device->host).
void copy(void* dst, int dst_device, const void* src, int src_device, size_t bytes);
void memset_zero(void* ptr, size_t bytes, int device);
// Waits for all work queued on the device's stream.
void synchronize(int device);

// Page-locked (pinned) host memory, for host buffers copied to a device again and again (the loader's batches): a
// device copies from it without staging. Freed blocks are cached and handed out again only once the device work
// queued before they were freed has completed, so a block never changes under a copy still reading it.
void* allocate_pinned(size_t bytes);
void free_pinned(void* ptr, size_t bytes);
// True when [ptr, ptr + bytes) lies in one live pinned block.
bool is_pinned(const void* ptr, size_t bytes);
// Host->device copy from pinned memory, queued on the device's stream; returns at once. The caller keeps the source
// unchanged until the stream has run the copy (Tensor::to(device, /*non_blocking=*/true) on a pinned tensor).
void copy_from_pinned_async(void* dst, int device, const void* src, size_t bytes);

// f32 convolutions on CUDA tensors in tf32 on the tensor cores (inputs rounded to a 10-bit mantissa, fp32
// accumulation: relative errors near 1e-3 instead of 1e-6) when on; off by default (full fp32). Process-wide, for
// every device. CPU-only builds: setting it is an error, and it reads false.
void set_tf32_convolutions(bool on);
bool tf32_convolutions();

}  // namespace atrous::cuda
