// The Gaussian filter the lattice approximates, computed exactly: out_i = post_i * sum_j exp(-|f_i - f_j|^2 / 2)
// pre_j in_j over all pairs, self pair included, accumulated in double. O(n^2 d): the reference for tests and tiny
// images, never for real ones.
#pragma once
#include <cstdint>

namespace atrous::crf {

// More points than this is almost certainly a mistake (seconds to minutes per call); it is an error.
constexpr int64_t kMaxExactFilterPoints = 16384;

// features: n x d; in/out: n x stride (out must not alias in); pre/post may be null (ones).
void exact_gaussian_filter(const float* features, int64_t n, int d, const float* in, float* out, int64_t stride,
                           const float* pre_scale, const float* post_scale);

}  // namespace atrous::crf
