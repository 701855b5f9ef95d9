// Host side of the allocator: a CachingPool (core/caching_pool.h) over aligned malloc, and the copies between devices.
#include "core/allocator.h"

#include <cstdlib>
#include <cstring>

#include "core/caching_pool.h"
#include "core/cuda_runtime.h"
#include "core/device_checks.h"
#include "core/error.h"

namespace atrous {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kSmallBlock = 64 * 1024;       // below this malloc's own arenas are cheap enough
constexpr size_t kMaxCachedBytes = size_t(8) << 30;  // beyond this, freed blocks go back to the system

// Small blocks go straight back to malloc, whose own arenas serve them cheaply; larger ones share best-fit
// segments; the cache stops growing at its cap.
struct HostBackend {
  size_t size_class(size_t bytes) const { return round_to_size_class(bytes, kSmallBlock, kAlignment); }
  size_t exact_limit() const { return kSmallBlock; }
  // A large request that no free block holds first gives back the wholly free segments (all smaller than it):
  // one fresh segment of its size replaces them, so a forward pass's growing requests do not stack segments.
  bool trims_on_miss() const { return true; }
  bool keeps(size_t rounded, size_t cached) const {
    return rounded > kSmallBlock && cached + rounded <= kMaxCachedBytes;
  }
  void* fresh(size_t rounded) { return std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded); }
  void give_back(void* ptr) { std::free(ptr); }
  void before_release() {}
  [[noreturn]] void out_of_memory(size_t bytes, size_t, const AllocatorStats& stats) {
    ATROUS_FAIL("host allocator: out of memory allocating ", bytes, " bytes (", stats.in_use_bytes, " bytes in use)");
  }
  void handed_out(void*, size_t, size_t) {}
  void cached(void*, size_t) {}
};

using HostCache = CachingPool<HostBackend>;

HostCache& host_cache() {
  static HostCache* cache = new HostCache(HostBackend{});  // never destroyed: tensors in static storage may outlive main
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
