// Caching host allocator: freed blocks are kept per size class and reused, because page faults on fresh memory cost
// more than the kernels themselves in the VMs we run on (DESIGN.md: LargeFOV eval 0.57 s -> 0.36 s with reuse).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/device.h"

namespace atrous {

// The size class a caching pool files a request under: multiples of `granule` up to `small_limit`, then 1/8 steps
// within each power of two, so reuse wastes at most 12.5% while blocks of slightly different sizes are shared.
// Both the host cache and the CUDA device pools use it, each with its own granule and limit.
inline size_t round_to_size_class(size_t bytes, size_t small_limit, size_t granule) {
  if (bytes <= small_limit) return (bytes + granule - 1) / granule * granule;
  size_t power = 1;
  while (power * 2 <= bytes) power *= 2;
  const size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}

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
