// Host side of the allocator: size-classed free lists behind one mutex. Small blocks go straight to malloc.
#include "core/allocator.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "core/cuda_runtime.h"
#include "core/device_checks.h"
#include "core/error.h"

namespace atrous {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kSmallBlock = 64 * 1024;       // below this malloc's own arenas are cheap enough
constexpr size_t kMaxCachedBytes = size_t(8) << 30;  // beyond this, freed blocks go back to the system

size_t size_class(size_t bytes) { return round_to_size_class(bytes, kSmallBlock, kAlignment); }

class HostCache {
 public:
  void* allocate(size_t bytes) {
    const size_t rounded = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    if (rounded > kSmallBlock) {
      auto it = free_.find(rounded);
      if (it != free_.end()) {
        void* ptr = it->second;
        free_.erase(it);
        stats_.cached_bytes -= rounded;
        ++stats_.cache_hits;
        note_in_use(rounded);
        return ptr;
      }
    }
    void* ptr = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
    if (!ptr && stats_.cached_bytes > 0) {  // out of memory: give the cache back and try once more
      release_locked();
      ptr = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
    }
    ATROUS_CHECK(ptr, "host allocator: out of memory allocating ", bytes, " bytes (", stats_.in_use_bytes,
                 " bytes in use)");
    note_in_use(rounded);
    return ptr;
  }

  void free(void* ptr, size_t bytes) {
    if (!ptr) return;
    const size_t rounded = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.in_use_bytes -= rounded;
    if (rounded > kSmallBlock && stats_.cached_bytes + rounded <= kMaxCachedBytes) {
      free_.emplace(rounded, ptr);
      stats_.cached_bytes += rounded;
    } else {
      std::free(ptr);
    }
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked();
  }

  ~HostCache() { release_locked(); }

 private:
  void note_in_use(size_t rounded) {
    stats_.in_use_bytes += rounded;
    if (stats_.in_use_bytes > stats_.peak_in_use_bytes) stats_.peak_in_use_bytes = stats_.in_use_bytes;
  }
  void release_locked() {
    for (auto& [size, ptr] : free_) std::free(ptr);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  AllocatorStats stats_;
};

HostCache& host_cache() {
  static HostCache* cache = new HostCache();  // never destroyed: tensors in static storage may outlive main
  return *cache;
}

}  // namespace

void* device_allocate(size_t bytes, Device device) {
  if (device.is_cpu()) return host_cache().allocate(bytes);
  return cuda::allocate(bytes, device.index);
}

void device_free(void* ptr, size_t bytes, Device device) {
  if (device.is_cpu()) return host_cache().free(ptr, bytes);
  cuda::free(ptr, bytes, device.index);
}

AllocatorStats host_allocator_stats() { return host_cache().stats(); }
void host_allocator_release_cache() { host_cache().release(); }

void device_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
  cuda::copy(dst, dst_device.is_cuda() ? dst_device.index : -1, src, src_device.is_cuda() ? src_device.index : -1,
             bytes);
  // The host now waited for the device: report what the device found meanwhile (core/device_checks.h).
  if (dst_device.is_cpu()) run_device_checks(src_device);
}

void device_memset_zero(void* ptr, size_t bytes, Device device) {
  if (bytes == 0) return;
  if (device.is_cpu()) {
    std::memset(ptr, 0, bytes);
    return;
  }
  cuda::memset_zero(ptr, bytes, device.index);
}

}  // namespace atrous
