// The hash table of lattice keys, for any lattice: PermutohedralLattice::build uses it where the keys' box is too
// large for a dense array (crf/lattice_key_box.h), e.g. the CRF's bilateral kernel.
#pragma once
#include <cstdint>
#include <vector>

namespace atrous::crf {

// Open-addressing hash table (linear probing) from d-coordinate lattice keys to dense indices 0..size-1. A slot
// holds the index and the upper half of the key's hash, so a probe that meets another key is mostly rejected
// without touching the key arrays (one cache miss per lookup instead of three).
class KeyTable {
 public:
  KeyTable(int d, int64_t expected) : d_(d) {
    int64_t capacity = 64;
    while (capacity < 2 * expected) capacity *= 2;
    slots_.assign(static_cast<size_t>(capacity), 0);
    mask_ = static_cast<uint64_t>(capacity - 1);
    keys_.reserve(static_cast<size_t>(expected * d));
    hashes_.reserve(static_cast<size_t>(expected));
  }

  int64_t size() const { return static_cast<int64_t>(hashes_.size()); }
  const int32_t* key(int64_t index) const { return keys_.data() + index * d_; }
  uint64_t hash(int64_t index) const { return hashes_[index]; }

  // The index of `key`, inserted if absent.
  int32_t insert(const int32_t* key, uint64_t hash) {
    if (2 * (size() + 1) > static_cast<int64_t>(slots_.size())) grow();
    const uint64_t tag = hash & ~uint64_t(0xFFFFFFFF);
    for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      const uint64_t entry = slots_[slot];
      if (entry == 0) {
        const int32_t index = static_cast<int32_t>(size());
        slots_[slot] = tag | static_cast<uint32_t>(index + 1);
        const size_t at = keys_.size();
        keys_.resize(at + d_);  // (vector::insert of a range was a fifth of the build's time)
        for (int i = 0; i < d_; ++i) keys_[at + i] = key[i];
        hashes_.push_back(hash);
        return index;
      }
      const int32_t index = static_cast<int32_t>(entry & 0xFFFFFFFF) - 1;
      if ((entry & ~uint64_t(0xFFFFFFFF)) == tag && same_key(index, key)) return index;
    }
  }

  // Room for `expected` keys in all without growing again (one rehash at most, here).
  void reserve(int64_t expected) {
    uint64_t capacity = slots_.size();
    while (capacity < static_cast<uint64_t>(2 * expected)) capacity *= 2;
    if (capacity > slots_.size()) rehash(capacity);
    keys_.reserve(static_cast<size_t>(expected * d_));
    hashes_.reserve(static_cast<size_t>(expected));
  }

  void prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }
  // Prefetches the stored key of the entry in `hash`'s first slot, if any: the next read of a lookup, once the slot
  // itself has arrived (after prefetch(hash)).
  void prefetch_entry(uint64_t hash) const {
    const uint64_t entry = slots_[hash & mask_];
    if (entry != 0) __builtin_prefetch(keys_.data() + (static_cast<int64_t>(entry & 0xFFFFFFFF) - 1) * d_);
  }

  // The index of `key`, or -1.
  int32_t find(const int32_t* key, uint64_t hash) const {
    const uint64_t tag = hash & ~uint64_t(0xFFFFFFFF);
    for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      const uint64_t entry = slots_[slot];
      if (entry == 0) return -1;
      const int32_t index = static_cast<int32_t>(entry & 0xFFFFFFFF) - 1;
      if ((entry & ~uint64_t(0xFFFFFFFF)) == tag && same_key(index, key)) return index;
    }
  }

 private:
  // A plain loop: keys are a few ints, where a memcmp call costs more than the comparison.
  bool same_key(int64_t index, const int32_t* key) const {
    const int32_t* stored = this->key(index);
    for (int i = 0; i < d_; ++i)
      if (stored[i] != key[i]) return false;
    return true;
  }

  void grow() { rehash(slots_.size() * 2); }

  void rehash(uint64_t capacity) {
    slots_.assign(capacity, 0);
    mask_ = slots_.size() - 1;
    for (int64_t index = 0; index < size(); ++index) {
      uint64_t slot = hashes_[index] & mask_;
      while (slots_[slot] != 0) slot = (slot + 1) & mask_;
      slots_[slot] = (hashes_[index] & ~uint64_t(0xFFFFFFFF)) | static_cast<uint32_t>(index + 1);
    }
  }

  int d_;
  std::vector<int32_t> keys_;
  std::vector<uint64_t> hashes_;
  std::vector<uint64_t> slots_;  // 0: empty; else hash's upper 32 bits | (index + 1)
  uint64_t mask_ = 0;
};

}  // namespace atrous::crf
