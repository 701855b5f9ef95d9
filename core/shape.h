// Shapes and strides as int64 vectors, with printing for error messages.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace atrous {

using Shape = std::vector<int64_t>;

inline std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

inline int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

inline Shape contiguous_strides(const Shape& s) {
  Shape strides(s.size());
  int64_t step = 1;
  for (size_t i = s.size(); i-- > 0;) {
    strides[i] = step;
    step *= s[i];
  }
  return strides;
}

}  // namespace atrous
