// CachingPool (core/caching_pool.h) over a backend that records what it asks of the system: small classes reused by
// class, large requests best fit with splitting and merging, segments given back only whole, statistics.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <vector>

#include "core/caching_pool.h"

namespace atrous {
namespace {

constexpr size_t kLimit = 1000;  // classes up to this are reused whole
constexpr size_t kGranule = 100;

struct SystemLog {
  std::map<char*, size_t> live;  // segments the pool holds, by start
  size_t fresh_calls = 0, releases = 0;
  size_t refuse_above = SIZE_MAX;  // fresh() fails for sizes above this (out of memory)
  std::vector<std::pair<char*, size_t>> handed, cached;
};

struct RecordingBackend {
  SystemLog* log;
  bool trim = false;
  bool keep = true;

  size_t size_class(size_t bytes) const { return (bytes + kGranule - 1) / kGranule * kGranule; }
  size_t exact_limit() const { return kLimit; }
  bool keeps(size_t, size_t) const { return keep; }
  bool trims_on_miss() const { return trim; }
  void* fresh(size_t rounded) {
    if (rounded > log->refuse_above) return nullptr;
    ++log->fresh_calls;
    char* p = static_cast<char*>(std::malloc(rounded));
    log->live[p] = rounded;
    return p;
  }
  void give_back(void* ptr) {
    auto it = log->live.find(static_cast<char*>(ptr));
    if (it == log->live.end()) throw std::logic_error("give_back of memory that is not a segment start");
    std::free(ptr);
    log->live.erase(it);
  }
  void before_release() { ++log->releases; }
  [[noreturn]] void out_of_memory(size_t, size_t rounded, const AllocatorStats&) {
    throw std::runtime_error("out of memory: " + std::to_string(rounded));
  }
  void handed_out(void* ptr, size_t, size_t block) { log->handed.emplace_back(static_cast<char*>(ptr), block); }
  void cached(void* ptr, size_t block) { log->cached.emplace_back(static_cast<char*>(ptr), block); }
};

using Pool = CachingPool<RecordingBackend>;

TEST(CachingPool, SmallClassesComeBackWholeByClass) {
  SystemLog log;
  Pool pool(RecordingBackend{&log});
  void* a = pool.allocate(250);  // class 300
  pool.free(a, 250);
  EXPECT_EQ(pool.allocate(201), a);  // the same class: the same block
  void* b = pool.allocate(150);      // class 200
  EXPECT_EQ(log.fresh_calls, 2u);
  pool.free(a, 201);
  void* c = pool.allocate(120);  // class 200 again: the free block is of class 300, so fresh memory
  EXPECT_NE(c, a);
  EXPECT_EQ(log.fresh_calls, 3u);
  const AllocatorStats s = pool.stats();
  EXPECT_EQ(s.in_use_bytes, 400u);
  EXPECT_EQ(s.cached_bytes, 300u);
  EXPECT_EQ(s.allocations, 4u);
  EXPECT_EQ(s.cache_hits, 1u);
  pool.free(b, 150);
  pool.free(c, 120);
}

TEST(CachingPool, LargeRequestsSplitTheBestFitAndMergeBack) {
  SystemLog log;
  Pool pool(RecordingBackend{&log});
  char* big = static_cast<char*>(pool.allocate(10000));
  char* other = static_cast<char*>(pool.allocate(5000));
  pool.free(big, 10000);
  pool.free(other, 5000);
  EXPECT_EQ(pool.stats().cached_bytes, 15000u);

  // 3000 takes the smaller segment that holds it (5000), split 3000 + 2000.
  char* x = static_cast<char*>(pool.allocate(3000));
  EXPECT_EQ(x, other);
  // 2000 fits the 2000 rest exactly (best fit), not the 10000 segment.
  char* y = static_cast<char*>(pool.allocate(2000));
  EXPECT_EQ(y, other + 3000);
  // 9000 splits the big segment, its rest (1000) is not above the exact limit: handed out whole.
  char* z = static_cast<char*>(pool.allocate(9000));
  EXPECT_EQ(z, big);
  EXPECT_EQ(log.handed.back().second, 10000u);
  EXPECT_EQ(log.fresh_calls, 2u);
  AllocatorStats s = pool.stats();
  EXPECT_EQ(s.in_use_bytes, 15000u);
  EXPECT_EQ(s.cached_bytes, 0u);
  EXPECT_EQ(s.cache_hits, 3u);

  // Freeing x then y merges the 5000 segment again: a 5000 request fits without fresh memory.
  pool.free(x, 3000);
  pool.free(y, 2000);
  EXPECT_EQ(pool.allocate(5000), other);
  EXPECT_EQ(log.fresh_calls, 2u);
  pool.free(other, 5000);
  pool.free(z, 9000);
  s = pool.stats();
  EXPECT_EQ(s.in_use_bytes, 0u);
  EXPECT_EQ(s.cached_bytes, 15000u);
  EXPECT_EQ(s.peak_in_use_bytes, 15000u);
}

TEST(CachingPool, MergesWithBothNeighbours) {
  SystemLog log;
  Pool pool(RecordingBackend{&log});
  char* seg = static_cast<char*>(pool.allocate(9000));
  pool.free(seg, 9000);
  char* a = static_cast<char*>(pool.allocate(3000));
  char* b = static_cast<char*>(pool.allocate(3000));
  char* c = static_cast<char*>(pool.allocate(3000));
  ASSERT_EQ(a, seg);
  ASSERT_EQ(b, seg + 3000);
  ASSERT_EQ(c, seg + 6000);
  pool.free(a, 3000);
  pool.free(c, 3000);
  pool.free(b, 3000);  // merges with the free block on each side
  EXPECT_EQ(pool.allocate(9000), seg);
  EXPECT_EQ(log.fresh_calls, 1u);
  pool.free(seg, 9000);
}

TEST(CachingPool, ReleaseGivesBackOnlyWholeSegments) {
  SystemLog log;
  Pool pool(RecordingBackend{&log});
  char* seg = static_cast<char*>(pool.allocate(8000));
  void* lone = pool.allocate(4000);
  void* small = pool.allocate(500);
  pool.free(seg, 8000);
  char* part = static_cast<char*>(pool.allocate(2000));  // seg split: 2000 in use, 6000 free
  pool.free(lone, 4000);
  pool.free(small, 500);
  EXPECT_EQ(pool.stats().cached_bytes, 6000u + 4000u + 500u);
  pool.release();
  EXPECT_EQ(log.releases, 1u);
  EXPECT_EQ(log.live.size(), 1u);  // the split segment is still partly in use
  EXPECT_EQ(log.live.count(seg), 1u);
  EXPECT_EQ(pool.stats().cached_bytes, 6000u);
  pool.free(part, 2000);
  pool.release();
  EXPECT_TRUE(log.live.empty());
  EXPECT_EQ(pool.stats().cached_bytes, 0u);
}

TEST(CachingPool, TrimOnMissReplacesSmallerFreeSegments) {
  SystemLog log;
  Pool pool(RecordingBackend{&log, /*trim=*/true});
  void* a = pool.allocate(3000);
  void* b = pool.allocate(4000);
  pool.free(a, 3000);
  pool.free(b, 4000);
  void* big = pool.allocate(6000);  // neither free segment holds it: both go back, one of 6000 comes
  EXPECT_EQ(log.live.size(), 1u);
  EXPECT_EQ(log.live.begin()->second, 6000u);
  EXPECT_EQ(pool.stats().cached_bytes, 0u);
  pool.free(big, 6000);

  // Without trimming the free segments stay.
  SystemLog kept_log;
  Pool kept(RecordingBackend{&kept_log});
  a = kept.allocate(3000);
  b = kept.allocate(4000);
  kept.free(a, 3000);
  kept.free(b, 4000);
  big = kept.allocate(6000);
  EXPECT_EQ(kept_log.live.size(), 3u);
  EXPECT_EQ(kept.stats().cached_bytes, 7000u);
  kept.free(big, 6000);
}

TEST(CachingPool, OutOfMemoryGivesTheCacheBackThenFails) {
  SystemLog log;
  Pool pool(RecordingBackend{&log});
  void* a = pool.allocate(5000);
  pool.free(a, 5000);
  log.refuse_above = 6000;
  EXPECT_THROW(pool.allocate(7000), std::runtime_error);
  EXPECT_TRUE(log.live.empty()) << "the cached segment went back before giving up";
  EXPECT_EQ(pool.stats().cached_bytes, 0u);
  EXPECT_EQ(pool.stats().in_use_bytes, 0u);
}

TEST(CachingPool, SegmentsNotKeptGoBackWhenWhollyFree) {
  SystemLog log;
  RecordingBackend backend{&log};
  backend.keep = false;
  Pool pool(backend);
  char* seg = static_cast<char*>(pool.allocate(8000));
  pool.free(seg, 8000);
  EXPECT_TRUE(log.live.empty());
  EXPECT_EQ(pool.stats().cached_bytes, 0u);
}

TEST(CachingPool, ReportsEveryBlockToTheBackend) {
  SystemLog log;
  Pool pool(RecordingBackend{&log});
  char* seg = static_cast<char*>(pool.allocate(6000));
  pool.free(seg, 6000);
  char* a = static_cast<char*>(pool.allocate(2500));  // class 2500: a 2500 block, the 3500 rest stays free
  ASSERT_EQ(log.handed.size(), 2u);
  EXPECT_EQ(log.handed[1], std::make_pair(a, size_t(2500)));
  pool.free(a, 2500);
  ASSERT_EQ(log.cached.size(), 2u);
  EXPECT_EQ(log.cached[1], std::make_pair(a, size_t(2500)));
}

}  // namespace
}  // namespace atrous
