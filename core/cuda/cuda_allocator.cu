// Caching device allocator: a CachingPool (core/caching_pool.h) per device, so steady-state training allocates
// without cudaMalloc/cudaFree (both synchronise the device and cost tens of microseconds). Blocks are reused at once
// because every kernel and copy of a device is ordered on its one stream (cuda_context.h).
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/allocator.h"
#include "core/caching_pool.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda_runtime.h"

namespace atrous::cuda {
namespace {

constexpr size_t kMinBlock = 512;              // every block is a multiple of this (cudaMalloc aligns to 256)
constexpr size_t kSmallLimit = size_t(1) << 20;  // up to 1 MiB: exact multiples of 512 bytes

// cudaMalloc on one device. Every freed block is kept: steady-state training then never calls cudaMalloc.
class DeviceBackend {
 public:
  explicit DeviceBackend(int device) : device_(device) {}

  // Multiples of 512 bytes up to 1 MiB, then 1/8 steps; an empty request still gets a real block.
  size_t size_class(size_t bytes) const {
    return bytes == 0 ? kMinBlock : round_to_size_class(bytes, kSmallLimit, kMinBlock);
  }
  // Blocks up to 1 MiB are reused by class; larger ones share best-fit segments. In the simulator every block is
  // its own cudaMalloc, reused by class: its bounds checks see each tensor's block, not a shared segment.
#ifdef ATROUS_CUDA_SIM_ACTIVE
  size_t exact_limit() const { return SIZE_MAX; }
#else
  size_t exact_limit() const { return kSmallLimit; }
#endif
  bool keeps(size_t, size_t) const { return true; }
  // Segments go back only on release() or out of memory: cudaFree synchronises the device.
  bool trims_on_miss() const { return false; }

  void* fresh(size_t rounded) {
    ATROUS_CUDA_CHECK(cudaSetDevice(device_));
    void* ptr = nullptr;
    last_error_ = cudaMalloc(&ptr, rounded);
    if (last_error_ == cudaSuccess) return ptr;
    cudaGetLastError();  // clear the error state, so the retry (or the next call) starts clean
    return nullptr;
  }

  void give_back(void* ptr) { ATROUS_CUDA_CHECK(cudaFree(ptr)); }

  // cudaFree waits for the device; queued kernels may still read the cached blocks until then.
  void before_release() {
    ATROUS_CUDA_CHECK(cudaSetDevice(device_));
    ATROUS_CUDA_CHECK(cudaStreamSynchronize(stream(device_)));
  }

  [[noreturn]] void out_of_memory(size_t bytes, size_t rounded, const AllocatorStats& stats) {
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    ATROUS_FAIL("CUDA out of memory on cuda:", device_, ": cudaMalloc of ", rounded, " bytes (", bytes,
                " requested) failed with ", cudaGetErrorName(last_error_), "; ", stats.in_use_bytes,
                " bytes in use by tensors, ", stats.cached_bytes, " cached, device has ", free_bytes, " free of ",
                total_bytes);
  }

  // The simulator checks kernels against the tensor's exact extent, not the rounded block (off-by-one stores), and
  // catches a kernel reading a freed tensor.
  void handed_out(void* ptr, size_t bytes, size_t block) {
#ifdef ATROUS_CUDA_SIM_ACTIVE
    sim::note_block_in_use(ptr, bytes, block);
#else
    (void)ptr;
    (void)bytes;
    (void)block;
#endif
  }
  void cached(void* ptr, size_t block) {
#ifdef ATROUS_CUDA_SIM_ACTIVE
    sim::note_block_cached(ptr, block);
#else
    (void)ptr;
    (void)block;
#endif
  }

 private:
  int device_;
  cudaError_t last_error_ = cudaSuccess;
};

using DevicePool = CachingPool<DeviceBackend>;

DevicePool& pool(int device) {
  ATROUS_CHECK(device >= 0 && device < device_count(), "CUDA allocator: device cuda:", device, " does not exist (",
               device_count(), " visible)");
  static std::mutex* mutex = new std::mutex();
  // Never destroyed: tensors in static storage may return blocks after main returns.
  static auto* pools = new std::vector<std::unique_ptr<DevicePool>>();
  std::lock_guard<std::mutex> lock(*mutex);
  if (pools->size() <= static_cast<size_t>(device)) pools->resize(device + 1);
  if (!(*pools)[device]) (*pools)[device] = std::make_unique<DevicePool>(DeviceBackend(device));
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
