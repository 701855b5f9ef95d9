// Deterministic model weights both PyTorch (tests/fixtures/make_parity_fixtures.py) and the tests generate bit for bit from a
// splitmix64 hash, so whole-model parity fixtures need no committed weights: see the script for the formula.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace atrous::testing {

uint64_t splitmix64(uint64_t x);

// Element i of the k-th tensor: float32(offset + scale * u), u = ((h >> 40) - 2^23) * 2^-24 with
// h = splitmix64(splitmix64(seed * 2^32 + k) + i). scale must be a float32 value (then the product is exact).
std::vector<float> deterministic_values(uint64_t seed, uint64_t k, int64_t count, double scale, double offset);

// One line of a <case>_names.txt fixture: a PyTorch state-dict entry and the parameters of its values.
struct DeterministicTensor {
  std::string name;
  Shape pytorch_shape;  // OIHW for conv weights
  double scale = 0.0;
  double offset = 0.0;
  uint64_t checksum = 0;  // sum of the values' float32 bit patterns, as PyTorch's side generated them
};

struct DeterministicStateDict {
  uint64_t seed = 0;
  std::vector<DeterministicTensor> tensors;  // PyTorch state-dict order
};

// Reads a names file (errors name the file and line).
DeterministicStateDict read_deterministic_names(const std::string& path);

// The state dict in PyTorch's names and layout (f32 CPU tensors), tensor k from tensors[k]; a tensor whose bits
// differ from the checksum PyTorch's side recorded is an error naming it.
std::map<std::string, Tensor> make_deterministic_state(const DeterministicStateDict& spec);

}  // namespace atrous::testing
