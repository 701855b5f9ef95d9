// Exact O(n^2) Gaussian filtering for the CRF's tests and reference mean field.
#include "crf/exact_gaussian_filter.h"

#include <cmath>
#include <vector>

#include "core/error.h"

namespace atrous::crf {

void exact_gaussian_filter(const float* features, int64_t n, int d, const float* in, float* out, int64_t stride,
                           const float* pre_scale, const float* post_scale) {
  ATROUS_CHECK(n >= 1 && n <= kMaxExactFilterPoints, "exact Gaussian filter: ", n, " points (allowed 1..",
               kMaxExactFilterPoints, "; use the permutohedral lattice for real images)");
  ATROUS_CHECK(d >= 1 && stride >= 1, "exact Gaussian filter: bad feature dimension ", d, " or stride ", stride);
  ATROUS_CHECK(in != out, "exact Gaussian filter: out must not alias in");
#pragma omp parallel for schedule(static) if (n > 256)
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> acc(static_cast<size_t>(stride), 0.0);
    for (int64_t j = 0; j < n; ++j) {
      double dist2 = 0.0;
      for (int k = 0; k < d; ++k) {
        const double diff = static_cast<double>(features[i * d + k]) - features[j * d + k];
        dist2 += diff * diff;
      }
      const double w = std::exp(-0.5 * dist2) * (pre_scale ? pre_scale[j] : 1.0f);
      for (int64_t c = 0; c < stride; ++c) acc[c] += w * in[j * stride + c];
    }
    const double post = post_scale ? post_scale[i] : 1.0f;
    for (int64_t c = 0; c < stride; ++c) out[i * stride + c] = static_cast<float>(acc[c] * post);
  }
}

}  // namespace atrous::crf
