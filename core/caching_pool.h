// The caching pool both allocators use: freed blocks kept in size-classed free lists behind one mutex, reused for
// later requests of the same class, with statistics. What differs between the host cache (core/allocator.cpp) and
// each CUDA device's pool (core/cuda/cuda_allocator.cu) is the backend:
//
//   size_t size_class(size_t bytes) const;             // the rounded size a request is filed under
//   bool keeps(size_t rounded, size_t cached) const;   // cache a freed block of this class, `cached` bytes cached?
//   void* fresh(size_t rounded);                       // new memory from the system; nullptr when out of memory
//   void give_back(void* ptr);                         // return one block to the system
//   void before_release();                             // before cached blocks go back (the device waits there)
//   [[noreturn]] void out_of_memory(size_t bytes, size_t rounded, const AllocatorStats& stats);
//   void handed_out(void* ptr, size_t bytes, size_t rounded);  // a block leaves the pool (simulator bookkeeping)
//   void cached(void* ptr, size_t rounded);                    // a block enters the free lists
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <utility>

#include "core/allocator.h"

namespace atrous {

template <typename Backend>
class CachingPool {
 public:
  explicit CachingPool(Backend backend) : backend_(std::move(backend)) {}
  CachingPool(const CachingPool&) = delete;
  CachingPool& operator=(const CachingPool&) = delete;

  void* allocate(size_t bytes) {
    const size_t rounded = backend_.size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    void* ptr = nullptr;
    auto it = free_.find(rounded);
    if (it != free_.end()) {
      ptr = it->second;
      free_.erase(it);
      stats_.cached_bytes -= rounded;
      ++stats_.cache_hits;
    } else {
      ptr = backend_.fresh(rounded);
      if (!ptr && stats_.cached_bytes > 0) {  // out of memory: give the cache back and try once more
        release_locked();
        ptr = backend_.fresh(rounded);
      }
      if (!ptr) backend_.out_of_memory(bytes, rounded, stats_);
    }
    stats_.in_use_bytes += rounded;
    if (stats_.in_use_bytes > stats_.peak_in_use_bytes) stats_.peak_in_use_bytes = stats_.in_use_bytes;
    backend_.handed_out(ptr, bytes, rounded);
    return ptr;
  }

  // Never throws (Storage's destructor calls it): the block goes to the free lists or back to the system.
  void free(void* ptr, size_t bytes) {
    if (!ptr) return;
    const size_t rounded = backend_.size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.in_use_bytes -= rounded;
    if (backend_.keeps(rounded, stats_.cached_bytes)) {
      backend_.cached(ptr, rounded);
      free_.emplace(rounded, ptr);
      stats_.cached_bytes += rounded;
    } else {
      backend_.give_back(ptr);
    }
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  // Every cached block back to the system.
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked();
  }

 private:
  void release_locked() {
    backend_.before_release();
    for (auto& [size, ptr] : free_) backend_.give_back(ptr);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  Backend backend_;
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  AllocatorStats stats_;
};

}  // namespace atrous
