// Counter-based random numbers (Philox-4x32-10, Salmon et al. SC'11): element i of a draw depends only on
// (seed, offset + i), so CPU and CUDA kernels produce the same dropout masks and a generator's whole state is two
// integers, which checkpoints save and restore exactly.
#pragma once
#include <cstdint>

#include "core/host_device.h"

namespace atrous {

struct Philox4 {
  uint32_t v[4];
};

ATROUS_HOST_DEVICE inline Philox4 philox4x32(uint64_t counter, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) from 24 random bits: exactly representable in float.
ATROUS_HOST_DEVICE inline float uniform_from_bits(uint32_t bits) { return (bits >> 8) * (1.0f / 16777216.0f); }

// Uniform [0,1) number number `index` of the stream (seed, offset).
ATROUS_HOST_DEVICE inline float philox_uniform(uint64_t seed, uint64_t offset, uint64_t index) {
  const uint64_t n = offset + index;
  return uniform_from_bits(philox4x32(n >> 2, seed).v[n & 3]);
}

// A stream of numbers: draws advance `offset` by the number of values consumed.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves `count` numbers and returns the offset of the first, for kernels that draw them by index.
  uint64_t reserve(uint64_t count) {
    const uint64_t first = offset_;
    offset_ += (count + 3) / 4 * 4;  // keep draws aligned to whole Philox blocks
    return first;
  }
  float next_uniform() { return philox_uniform(seed_, reserve(1), 0); }
  double next_normal();  // Box-Muller

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The generator factories and dropout use when none is given.
Generator& default_generator();

}  // namespace atrous
