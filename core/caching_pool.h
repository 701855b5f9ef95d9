// The caching pool both allocators use: freed blocks are kept and reused behind one mutex, with statistics. What
// differs between the host cache (core/allocator.cpp) and each CUDA device's pool (core/cuda/cuda_allocator.cu) is
// the backend:
//
//   size_t size_class(size_t bytes) const;             // the rounded size a request is filed under
//   size_t exact_limit() const;                        // classes up to this are reused whole, by class
//   bool keeps(size_t rounded, size_t cached) const;   // cache a freed block of this class, `cached` bytes cached?
//   void* fresh(size_t rounded);                       // new memory from the system; nullptr when out of memory
//   void give_back(void* ptr);                         // return one block to the system
//   void before_release();                             // before cached blocks go back (the device waits there)
//   bool trims_on_miss() const;                        // a large miss first gives back wholly free segments?
//   [[noreturn]] void out_of_memory(size_t bytes, size_t rounded, const AllocatorStats& stats);
//   void handed_out(void* ptr, size_t bytes, size_t block);  // a block leaves the pool (simulator bookkeeping)
//   void cached(void* ptr, size_t block);                    // a block enters the free lists
//
// Two regimes. Small classes (up to exact_limit) go to free lists by class and come back whole. Larger requests
// take the smallest free block that holds them (best fit), split off what is left when that is itself a large
// block, and freed neighbours within one piece of system memory (a segment) merge again. With reuse by class alone
// every distinct activation size of a forward pass kept its own blocks: LargeFOV's eval held 345 MB of cached blocks
// for a peak of 94 MB in use (204 MB with best fit alone, 96 MB with trims_on_miss). A segment goes back to the
// system only whole: on release(), when the system is out of memory, when a large request misses (trims_on_miss:
// the free segments are all smaller than it, and one fresh segment of its size replaces them, so that growing
// requests do not stack segments), or (keeps() false) when it comes free.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>

#include "core/allocator.h"

namespace atrous {

template <typename Backend>
class CachingPool {
 public:
  explicit CachingPool(Backend backend) : backend_(std::move(backend)) {}
  CachingPool(const CachingPool&) = delete;
  CachingPool& operator=(const CachingPool&) = delete;
  // (The allocators' pools live for the whole process; tests destroy theirs.) Cached memory goes back; blocks still
  // handed out are the owner's to have freed.
  ~CachingPool() {
    release_locked();
    for (auto& [ptr, block] : blocks_) delete block;
  }

  void* allocate(size_t bytes) {
    const size_t rounded = backend_.size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    const bool large = rounded > backend_.exact_limit();
    size_t size = rounded;  // the block's, which a best fit may make larger
    void* ptr = nullptr;
    if (!large) {
      ptr = take_by_class(rounded);
    } else if (Block* block = take_best_fit(rounded)) {
      ptr = block->ptr;
      size = block->size;
    }
    if (!ptr) {
      if (large && backend_.trims_on_miss()) trim_for_miss();
      ptr = backend_.fresh(rounded);
      if (!ptr && stats_.cached_bytes > 0) {  // out of memory: give the cache back and try once more
        release_locked();
        ptr = backend_.fresh(rounded);
      }
      if (!ptr) backend_.out_of_memory(bytes, rounded, stats_);
      if (large) blocks_.emplace(ptr, new Block{ptr, rounded, nullptr, nullptr, false});
    } else {
      ++stats_.cache_hits;
    }
    stats_.in_use_bytes += size;
    if (stats_.in_use_bytes > stats_.peak_in_use_bytes) stats_.peak_in_use_bytes = stats_.in_use_bytes;
    backend_.handed_out(ptr, bytes, size);
    return ptr;
  }

  // Never throws (Storage's destructor calls it): the block goes to the free lists or back to the system.
  void free(void* ptr, size_t bytes) {
    if (!ptr) return;
    const size_t rounded = backend_.size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    if (rounded <= backend_.exact_limit()) {
      stats_.in_use_bytes -= rounded;
      if (backend_.keeps(rounded, stats_.cached_bytes)) {
        backend_.cached(ptr, rounded);
        by_class_.emplace(rounded, ptr);
        stats_.cached_bytes += rounded;
      } else {
        backend_.give_back(ptr);
      }
      return;
    }
    Block* block = blocks_.at(ptr);
    stats_.in_use_bytes -= block->size;
    backend_.cached(ptr, block->size);
    block->free = true;
    stats_.cached_bytes += block->size;
    block = merge_with_neighbours(block);
    if (whole_segment(block) && !backend_.keeps(block->size, stats_.cached_bytes - block->size)) {
      give_back_segment(block);
    } else {
      free_.emplace(block->size, block);
    }
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  // Every cached small block and every wholly free segment back to the system. (Free blocks of a segment still
  // partly in use stay: they are part of the same system allocation.)
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked();
  }

 private:
  // One piece of a large-regime segment, linked to its neighbours in address order within the segment.
  struct Block {
    void* ptr;
    size_t size;
    Block* prev;
    Block* next;
    bool free;
  };

  void* take_by_class(size_t rounded) {
    auto it = by_class_.find(rounded);
    if (it == by_class_.end()) return nullptr;
    void* ptr = it->second;
    by_class_.erase(it);
    stats_.cached_bytes -= rounded;
    return ptr;
  }

  // The smallest free block of at least `rounded` bytes, with the rest split off as a free block of its own when
  // the rest is itself above the exact limit (else the block is handed out whole); null if none holds it.
  Block* take_best_fit(size_t rounded) {
    auto it = free_.lower_bound({rounded, nullptr});
    if (it == free_.end()) return nullptr;
    Block* block = it->second;
    free_.erase(it);
    const size_t rest = block->size - rounded;
    if (rest > backend_.exact_limit()) {
      Block* tail = new Block{static_cast<char*>(block->ptr) + rounded, rest, block, block->next, true};
      if (block->next) block->next->prev = tail;
      block->next = tail;
      block->size = rounded;
      blocks_.emplace(tail->ptr, tail);
      free_.emplace(rest, tail);
    }
    block->free = false;
    stats_.cached_bytes -= block->size;
    return block;
  }

  // A freed block (not in free_) absorbs its free neighbours; returns the merged block, not in free_ either.
  Block* merge_with_neighbours(Block* block) {
    if (block->next && block->next->free) {
      free_.erase({block->next->size, block->next});
      absorb_next(block);
    }
    if (block->prev && block->prev->free) {
      block = block->prev;
      free_.erase({block->size, block});
      absorb_next(block);
    }
    return block;
  }

  void absorb_next(Block* block) {
    Block* next = block->next;
    block->size += next->size;
    block->next = next->next;
    if (next->next) next->next->prev = block;
    blocks_.erase(next->ptr);
    delete next;
  }

  static bool whole_segment(const Block* block) { return !block->prev && !block->next; }

  void give_back_segment(Block* block) {
    stats_.cached_bytes -= block->size;
    backend_.give_back(block->ptr);
    blocks_.erase(block->ptr);
    delete block;
  }

  void release_locked() {
    backend_.before_release();
    for (auto& [size, ptr] : by_class_) {
      backend_.give_back(ptr);
      stats_.cached_bytes -= size;
    }
    by_class_.clear();
    give_back_free_segments();
  }

  // Before a large request's fresh segment (trims_on_miss): the wholly free segments go back, none of which holds it.
  void trim_for_miss() {
    const bool any = std::any_of(free_.begin(), free_.end(), [](const auto& entry) {
      return whole_segment(entry.second);
    });
    if (!any) return;
    backend_.before_release();
    give_back_free_segments();
  }

  void give_back_free_segments() {
    for (auto it = free_.begin(); it != free_.end();) {
      Block* block = it->second;
      if (!whole_segment(block)) {
        ++it;
        continue;
      }
      it = free_.erase(it);
      give_back_segment(block);
    }
  }

  Backend backend_;
  std::mutex mutex_;
  std::multimap<size_t, void*> by_class_;       // small regime: free blocks by class
  std::set<std::pair<size_t, Block*>> free_;    // large regime: free blocks by size (best fit: lower_bound)
  std::unordered_map<void*, Block*> blocks_;    // large regime: every block, free or not, by address
  AllocatorStats stats_;
};

}  // namespace atrous
