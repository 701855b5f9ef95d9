// Caching device allocator: per-device pools of freed blocks keyed by size class, so steady-state training
// allocates without cudaMalloc/cudaFree (both synchronise the device and cost tens of microseconds). Blocks are
// reused at once because every kernel and copy of a device is ordered on its one stream (cuda_context.h).
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/allocator.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda_runtime.h"

namespace atrous::cuda {
namespace {

constexpr size_t kMinBlock = 512;              // every block is a multiple of this (cudaMalloc aligns to 256)
constexpr size_t kSmallLimit = size_t(1) << 20;  // up to 1 MiB: exact multiples of 512 bytes

// Multiples of 512 bytes up to 1 MiB, then 1/8 steps; an empty request still gets a real block.
size_t size_class(size_t bytes) { return bytes == 0 ? kMinBlock : round_to_size_class(bytes, kSmallLimit, kMinBlock); }

class DevicePool {
 public:
  explicit DevicePool(int device) : device_(device) {}

  void* allocate(size_t bytes) {
    const size_t rounded = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    auto it = free_.find(rounded);
    if (it != free_.end()) {
      void* ptr = it->second;
      free_.erase(it);
      stats_.cached_bytes -= rounded;
      ++stats_.cache_hits;
      note_in_use(rounded);
      note_extent(ptr, bytes, rounded);
      return ptr;
    }
    ATROUS_CUDA_CHECK(cudaSetDevice(device_));
    void* ptr = nullptr;
    cudaError_t status = cudaMalloc(&ptr, rounded);
    if (status == cudaErrorMemoryAllocation && stats_.cached_bytes > 0) {
      cudaGetLastError();  // clear the sticky-free error state before retrying
      release_locked();
      status = cudaMalloc(&ptr, rounded);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      ATROUS_FAIL("CUDA out of memory on cuda:", device_, ": cudaMalloc of ", rounded, " bytes (", bytes,
                  " requested) failed with ", cudaGetErrorName(status), "; ", stats_.in_use_bytes,
                  " bytes in use by tensors, ", stats_.cached_bytes, " cached, device has ", free_bytes,
                  " free of ", total_bytes);
    }
    note_in_use(rounded);
    note_extent(ptr, bytes, rounded);
    return ptr;
  }

  void free(void* ptr, size_t bytes) {
    const size_t rounded = size_class(bytes);
#ifdef ATROUS_CUDA_SIM_ACTIVE
    sim::note_block_cached(ptr, rounded);  // a kernel reading a freed tensor is caught
#endif
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.in_use_bytes -= rounded;
    free_.emplace(rounded, ptr);
    stats_.cached_bytes += rounded;
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked();
  }

 private:
  // The simulator checks kernels against the tensor's exact extent, not the rounded block (off-by-one stores).
  static void note_extent(void* ptr, size_t bytes, size_t rounded) {
#ifdef ATROUS_CUDA_SIM_ACTIVE
    sim::note_block_in_use(ptr, bytes, rounded);
#else
    (void)ptr;
    (void)bytes;
    (void)rounded;
#endif
  }
  void note_in_use(size_t rounded) {
    stats_.in_use_bytes += rounded;
    if (stats_.in_use_bytes > stats_.peak_in_use_bytes) stats_.peak_in_use_bytes = stats_.in_use_bytes;
  }
  // cudaFree waits for the device; queued kernels may still read the cached blocks until then.
  void release_locked() {
    ATROUS_CUDA_CHECK(cudaSetDevice(device_));
    ATROUS_CUDA_CHECK(cudaStreamSynchronize(stream(device_)));
    for (auto& [size, ptr] : free_) ATROUS_CUDA_CHECK(cudaFree(ptr));
    free_.clear();
    stats_.cached_bytes = 0;
  }

  int device_;
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  AllocatorStats stats_;
};

DevicePool& pool(int device) {
  ATROUS_CHECK(device >= 0 && device < device_count(), "CUDA allocator: device cuda:", device, " does not exist (",
               device_count(), " visible)");
  static std::mutex* mutex = new std::mutex();
  // Never destroyed: tensors in static storage may return blocks after main returns.
  static auto* pools = new std::vector<std::unique_ptr<DevicePool>>();
  std::lock_guard<std::mutex> lock(*mutex);
  if (pools->size() <= static_cast<size_t>(device)) pools->resize(device + 1);
  if (!(*pools)[device]) (*pools)[device] = std::make_unique<DevicePool>(device);
  return *(*pools)[device];
}

}  // namespace

void* allocate(size_t bytes, int device) { return pool(device).allocate(bytes); }

// Called from Storage's destructor: never throws (the block only goes back to the pool).
void free(void* ptr, size_t bytes, int device) {
  if (!ptr) return;
  pool(device).free(ptr, bytes);
}

AllocatorStats allocator_stats(int device) { return pool(device).stats(); }
void release_cached_memory(int device) { pool(device).release(); }

}  // namespace atrous::cuda
