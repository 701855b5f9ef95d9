// Pinned host memory (core/cuda_runtime.h): a cache of page-locked blocks, because cudaMallocHost/cudaFreeHost cost
// milliseconds and the loader wants a fresh batch buffer every step. A freed block is filed with an event recorded
// on every device stream: it is handed out again only once those events have completed, i.e. once every copy
// queued before the free (an asynchronous copy still reading the batch) has run.
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <vector>

#include "core/allocator.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda_runtime.h"

namespace atrous::cuda {
namespace {

constexpr size_t kGranule = 4096;
constexpr size_t kSmallLimit = size_t(1) << 20;
constexpr size_t kMaxCachedBytes = size_t(2) << 30;  // beyond this, freed blocks go back to the driver

struct FreeBlock {
  void* ptr;
  std::vector<cudaEvent_t> released;  // one per device: the work queued before the free
};

struct PinnedCache {
  std::mutex mutex;
  std::multimap<size_t, FreeBlock> free;  // size class -> block
  std::map<const char*, size_t> live;     // block -> size class
  size_t cached_bytes = 0;
};

PinnedCache& cache() {
  static auto* c = new PinnedCache();  // never destroyed: pinned tensors in static storage may be freed at exit
  return *c;
}

size_t size_class(size_t bytes) { return round_to_size_class(bytes == 0 ? 1 : bytes, kSmallLimit, kGranule); }

bool completed(const FreeBlock& b) {
  for (cudaEvent_t e : b.released) {
    const cudaError_t status = cudaEventQuery(e);
    if (status == cudaErrorNotReady) return false;
    ATROUS_CUDA_CHECK(status);
  }
  return true;
}

void destroy_events(FreeBlock& b) {
  for (cudaEvent_t e : b.released) cudaEventDestroy(e);
  b.released.clear();
}

}  // namespace

void* allocate_pinned(size_t bytes) {
  const size_t rounded = size_class(bytes);
  PinnedCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto [first, last] = c.free.equal_range(rounded);
  for (auto it = first; it != last; ++it) {
    if (!completed(it->second)) continue;
    void* ptr = it->second.ptr;
    destroy_events(it->second);
    c.free.erase(it);
    c.cached_bytes -= rounded;
    c.live[static_cast<const char*>(ptr)] = rounded;
    return ptr;
  }
  void* ptr = nullptr;
  const cudaError_t status = cudaMallocHost(&ptr, rounded);
  if (status != cudaSuccess) {
    cudaGetLastError();
    ATROUS_FAIL("CUDA: cudaMallocHost of ", rounded, " bytes of pinned host memory (", bytes,
                " requested) failed with ", cudaGetErrorName(status), "; ", c.cached_bytes, " bytes are cached");
  }
  c.live[static_cast<const char*>(ptr)] = rounded;
  return ptr;
}

// Called from Storage's destructor: never throws (without an event it waits for the devices instead).
void free_pinned(void* ptr, size_t bytes) {
  if (!ptr) return;
  PinnedCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.live.erase(static_cast<const char*>(ptr));
  const size_t rounded = size_class(bytes);
  FreeBlock block{ptr, {}};
  try {
    for (int device = 0; device < device_count(); ++device) {
      cudaEvent_t event = nullptr;
      ATROUS_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
      block.released.push_back(event);
      ATROUS_CUDA_CHECK(cudaEventRecord(event, stream(device)));
    }
  } catch (const std::exception&) {
    cudaGetLastError();
    destroy_events(block);
    for (int device = 0; device < device_count(); ++device) {
      cudaSetDevice(device);
      cudaDeviceSynchronize();
    }
  }
  if (c.cached_bytes + rounded > kMaxCachedBytes) {
    for (cudaEvent_t e : block.released) cudaEventSynchronize(e);
    destroy_events(block);
    cudaFreeHost(ptr);
    return;
  }
  c.free.emplace(rounded, std::move(block));
  c.cached_bytes += rounded;
}

bool is_pinned(const void* ptr, size_t bytes) {
  PinnedCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  const auto* p = static_cast<const char*>(ptr);
  auto it = c.live.upper_bound(p);
  if (it == c.live.begin()) return false;
  --it;
  return p + bytes <= it->first + it->second;
}

void copy_from_pinned_async(void* dst, int device, const void* src, size_t bytes) {
  if (bytes == 0) return;
  ATROUS_CHECK(is_pinned(src, bytes), "cuda::copy_from_pinned_async: the source (", bytes,
               " bytes) is not in a pinned host block");
  ATROUS_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream(device)));
}

}  // namespace atrous::cuda
