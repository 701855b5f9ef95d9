#include "support/deterministic_weights.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace atrous::testing {

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::vector<float> deterministic_values(uint64_t seed, uint64_t k, int64_t count, double scale, double offset) {
  ATROUS_CHECK(static_cast<double>(static_cast<float>(scale)) == scale, "deterministic_values: scale ", scale,
               " is not a float32 value (the product would round differently under FMA contraction)");
  const uint64_t key = splitmix64((seed << 32) + k);
  std::vector<float> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t h = splitmix64(key + static_cast<uint64_t>(i));
    const double u = static_cast<double>(static_cast<int64_t>(h >> 40) - (int64_t{1} << 23)) * 0x1p-24;
    out[static_cast<size_t>(i)] = static_cast<float>(offset + scale * u);
  }
  return out;
}

DeterministicStateDict read_deterministic_names(const std::string& path) {
  std::ifstream in(path);
  ATROUS_CHECK(in, "read_deterministic_names: cannot open ", path,
               " (regenerate with /usr/bin/python3 tests/fixtures/make_parity_fixtures.py)");
  DeterministicStateDict out;
  std::string line;
  int number = 0;
  bool have_seed = false;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (!have_seed && line.rfind("# seed ", 0) == 0) {
        out.seed = std::strtoull(line.c_str() + 7, nullptr, 10);
        have_seed = true;
      }
      continue;
    }
    std::istringstream fields(line);
    DeterministicTensor t;
    std::string shape, scale, offset;
    ATROUS_CHECK(fields >> t.name >> shape >> scale >> offset >> t.checksum, "read_deterministic_names: ", path, ":",
                 number, ": expected 'name shape scale offset checksum', got '", line, "'");
    std::istringstream dims(shape);
    std::string dim;
    while (std::getline(dims, dim, ',')) t.pytorch_shape.push_back(std::strtoll(dim.c_str(), nullptr, 10));
    // Hexadecimal floats (Python's float.hex) are exact.
    t.scale = std::strtod(scale.c_str(), nullptr);
    t.offset = std::strtod(offset.c_str(), nullptr);
    out.tensors.push_back(std::move(t));
  }
  ATROUS_CHECK(have_seed && !out.tensors.empty(), "read_deterministic_names: ", path,
               ": no '# seed' line or no tensors");
  return out;
}

std::map<std::string, Tensor> make_deterministic_state(const DeterministicStateDict& spec) {
  std::map<std::string, Tensor> out;
  for (size_t k = 0; k < spec.tensors.size(); ++k) {
    const DeterministicTensor& t = spec.tensors[k];
    const std::vector<float> values =
        deterministic_values(spec.seed, k, shape_numel(t.pytorch_shape), t.scale, t.offset);
    uint64_t checksum = 0;
    for (float v : values) {
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      checksum += bits;
    }
    ATROUS_CHECK(checksum == t.checksum, "make_deterministic_state: tensor ", k, " '", t.name, "': checksum ",
                 checksum, ", PyTorch's side generated ", t.checksum);
    out.emplace(t.name, Tensor::from_vector(values, t.pytorch_shape));
  }
  return out;
}

}  // namespace atrous::testing
