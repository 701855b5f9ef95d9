// Caching host allocator: freed blocks are kept per size class and reused, because page faults on fresh memory cost
// more than the kernels themselves in the VMs we run on (DESIGN.md: LargeFOV eval 0.57 s -> 0.36 s with reuse).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/device.h"

namespace atrous {

struct AllocatorStats {
  size_t in_use_bytes = 0;   // handed out and not yet freed
  size_t cached_bytes = 0;   // freed, kept for reuse
  size_t peak_in_use_bytes = 0;
  uint64_t allocations = 0;  // calls to allocate
  uint64_t cache_hits = 0;   // allocations served from the cache
};

// Allocates `bytes` (64-byte aligned) on `device`. Throws atrous::Error naming the size on failure.
void* device_allocate(size_t bytes, Device device);
void device_free(void* ptr, size_t bytes, Device device);

AllocatorStats host_allocator_stats();
// Returns every cached host block to the system.
void host_allocator_release_cache();

// Copies between any two devices (host<->host, host<->cuda, cuda<->cuda).
void device_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
// Sets `bytes` bytes to zero.
void device_memset_zero(void* ptr, size_t bytes, Device device);

}  // namespace atrous
