// Dense-CRF kernels: features from an image, the normalisation D = K 1 computed with the same filter the mean
// field uses (so Kn is consistent with it), and Kn Q by lattice or exactly.
#include "crf/pairwise_kernel.h"

#include <cmath>

#include "core/error.h"
#include "crf/exact_gaussian_filter.h"

namespace atrous::crf {
namespace {

// Pixels below which the per-pixel loops here stay on one thread.
constexpr int64_t kParallelPixels = 16384;

void check_sigma(const char* what, float sigma) {
  ATROUS_CHECK(std::isfinite(sigma) && sigma > 0.0f, "dense CRF: ", what, " must be a positive number, got ", sigma);
}

}  // namespace

const char* normalization_name(KernelNormalization n) {
  switch (n) {
    case KernelNormalization::none: return "none";
    case KernelNormalization::before: return "before";
    case KernelNormalization::after: return "after";
    case KernelNormalization::symmetric: return "symmetric";
  }
  return "?";
}

KernelNormalization normalization_by_name(const std::string& name) {
  for (KernelNormalization n : {KernelNormalization::none, KernelNormalization::before, KernelNormalization::after,
                                KernelNormalization::symmetric})
    if (name == normalization_name(n)) return n;
  ATROUS_FAIL("dense CRF: unknown kernel normalisation '", name, "' (known: none, before, after, symmetric)");
}

PairwiseKernel::PairwiseKernel(std::vector<float> features, int64_t n, int d, KernelNormalization normalization,
                               FilterMethod method, const std::vector<PixelRun>& visit_order)
    : n_(n), d_(d), normalization_(normalization), method_(method) {
  ATROUS_CHECK(n >= 1 && d >= 1 && static_cast<int64_t>(features.size()) == n * d,
               "dense CRF kernel: ", features.size(), " feature values for ", n, " points of dimension ", d);
  if (method == FilterMethod::lattice) {
    lattice_ = PermutohedralLattice::build(features.data(), n, d, visit_order);
  } else {
    for (float v : features) ATROUS_CHECK(std::isfinite(v), "dense CRF kernel: non-finite feature (a zero sigma?)");
    features_ = std::move(features);
  }
  if (normalization == KernelNormalization::none) return;
  // D = K 1 through the same filter, then the per-pixel factors that turn K into Kn.
  HostArray<float> ones(n, 1.0f), degree(n), scratch;
  filter_raw(ones.data(), degree.data(), 1, nullptr, nullptr, scratch);
  // The self pair alone gives each pixel a positive degree; the epsilon only guards a degenerate lattice.
  constexpr float kEps = 1e-20f;
  if (normalization == KernelNormalization::symmetric || normalization == KernelNormalization::before)
    pre_ = HostArray<float>(n);
  if (normalization == KernelNormalization::symmetric || normalization == KernelNormalization::after)
    post_ = HostArray<float>(n);
  const bool symmetric = normalization == KernelNormalization::symmetric;
#pragma omp parallel for schedule(static) if (n > kParallelPixels)
  for (int64_t i = 0; i < n; ++i) {
    const float factor = symmetric ? 1.0f / std::sqrt(degree[i] + kEps) : 1.0f / (degree[i] + kEps);
    if (pre_.size()) pre_[i] = factor;
    if (post_.size()) post_[i] = factor;
  }
}

void PairwiseKernel::filter_raw(const float* in, float* out, int64_t stride, const float* pre, const float* post,
                                HostArray<float>& scratch) const {
  if (method_ == FilterMethod::lattice) {
    lattice_.filter(in, out, stride, pre, post, scratch);
  } else {
    exact_gaussian_filter(features_.data(), n_, d_, in, out, stride, pre, post);
  }
}

void PairwiseKernel::apply(const float* in, float* out, int64_t stride, HostArray<float>& scratch) const {
  filter_raw(in, out, stride, pre_.size() ? pre_.data() : nullptr, post_.size() ? post_.data() : nullptr, scratch);
}

size_t PairwiseKernel::memory_bytes() const {
  return lattice_.memory_bytes() + features_.size() * sizeof(float) + pre_.bytes() + post_.bytes();
}

std::vector<float> gaussian_features(int64_t height, int64_t width, float sigma_xy) {
  check_sigma("the Gaussian kernel's sigma_xy", sigma_xy);
  ATROUS_CHECK(height >= 1 && width >= 1, "dense CRF: image size ", height, "x", width, " is empty");
  std::vector<float> f(static_cast<size_t>(height * width * 2));
#pragma omp parallel for schedule(static) if (height * width > kParallelPixels)
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      f[(y * width + x) * 2] = static_cast<float>(x) / sigma_xy;
      f[(y * width + x) * 2 + 1] = static_cast<float>(y) / sigma_xy;
    }
  }
  return f;
}

std::vector<float> bilateral_features(const Tensor& image_rgb, float sigma_xy, float sigma_rgb) {
  check_sigma("the bilateral kernel's sigma_xy", sigma_xy);
  check_sigma("the bilateral kernel's sigma_rgb", sigma_rgb);
  ATROUS_CHECK(image_rgb.defined() && image_rgb.dim() == 3 && image_rgb.size(2) == 3 &&
                   image_rgb.dtype() == DType::u8 && image_rgb.device().is_cpu(),
               "dense CRF: the image must be u8 [H,W,3] RGB on the CPU, got ",
               image_rgb.defined() ? image_rgb.description() : std::string("an undefined tensor"));
  const Tensor image = image_rgb.contiguous();
  const int64_t height = image.size(0), width = image.size(1);
  ATROUS_CHECK(height >= 1 && width >= 1, "dense CRF: image size ", height, "x", width, " is empty");
  const uint8_t* rgb = image.data<uint8_t>();
  std::vector<float> f(static_cast<size_t>(height * width * 5));
#pragma omp parallel for schedule(static) if (height * width > kParallelPixels)
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const int64_t i = y * width + x;
      f[i * 5] = static_cast<float>(x) / sigma_xy;
      f[i * 5 + 1] = static_cast<float>(y) / sigma_xy;
      for (int c = 0; c < 3; ++c) f[i * 5 + 2 + c] = static_cast<float>(rgb[i * 3 + c]) / sigma_rgb;
    }
  }
  return f;
}

std::shared_ptr<PairwiseKernel> make_gaussian_kernel(int64_t height, int64_t width, float sigma_xy,
                                                     KernelNormalization normalization, FilterMethod method) {
  return std::make_shared<PairwiseKernel>(gaussian_features(height, width, sigma_xy), height * width, 2, normalization,
                                          method, tile_order(height, width));
}

std::shared_ptr<PairwiseKernel> make_bilateral_kernel(const Tensor& image_rgb, float sigma_xy, float sigma_rgb,
                                                      KernelNormalization normalization, FilterMethod method) {
  std::vector<float> f = bilateral_features(image_rgb, sigma_xy, sigma_rgb);
  return std::make_shared<PairwiseKernel>(std::move(f), image_rgb.size(0) * image_rgb.size(1), 5, normalization,
                                          method, tile_order(image_rgb.size(0), image_rgb.size(1)));
}

}  // namespace atrous::crf
