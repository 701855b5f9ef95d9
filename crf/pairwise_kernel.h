// One Gaussian kernel of the dense CRF (Kraehenbuehl & Koltun 2011, eq. 3) with its normalisation: applies
// Kn Q for a whole label map at once, by the permutohedral lattice (built here, once per image) or, for tests and
// tiny images, exactly in O(n^2).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "crf/host_array.h"
#include "crf/permutohedral_lattice.h"

namespace atrous::crf {

// How a kernel K is normalised, with D = diag(K 1) (densecrf's NormalizationType):
//   symmetric: D^-1/2 K D^-1/2 (densecrf's default); after: D^-1 K (DeepLab's refine tool); before: K D^-1;
//   none: K itself (its row sums grow with sigma, so weights tuned for a normalised kernel do not carry over).
enum class KernelNormalization { none, before, after, symmetric };
const char* normalization_name(KernelNormalization n);
KernelNormalization normalization_by_name(const std::string& name);  // errors list the names

enum class FilterMethod { lattice, exact };

class PairwiseKernel {
 public:
  // features: n rows of d floats, already divided by their sigmas. visit_order: see PermutohedralLattice::build
  // (the make_*_kernel functions pass the image's tile_order, the order the mean field visits pixels in).
  PairwiseKernel(std::vector<float> features, int64_t n, int d, KernelNormalization normalization,
                 FilterMethod method = FilterMethod::lattice, const std::vector<PixelRun>& visit_order = {});

  // out = Kn in, for n rows of `stride` floats (all filtered). in and out must differ. `scratch` is reused.
  void apply(const float* in, float* out, int64_t stride, HostArray<float>& scratch) const;

  int64_t size() const { return n_; }
  int dims() const { return d_; }
  KernelNormalization normalization() const { return normalization_; }
  FilterMethod method() const { return method_; }
  const PermutohedralLattice& lattice() const { return lattice_; }  // empty for FilterMethod::exact
  // Per-pixel factors before and after the filter that make K into Kn (empty when ones).
  const HostArray<float>& pre_scale() const { return pre_; }
  const HostArray<float>& post_scale() const { return post_; }
  size_t memory_bytes() const;

 private:
  void filter_raw(const float* in, float* out, int64_t stride, const float* pre, const float* post,
                  HostArray<float>& scratch) const;

  int64_t n_;
  int d_;
  KernelNormalization normalization_;
  FilterMethod method_;
  std::vector<float> features_;  // kept for the exact method only
  PermutohedralLattice lattice_;
  HostArray<float> pre_, post_;
};

// The kernels' features, n x d row-major: (x, y) / sigma_xy, and (x, y) / sigma_xy, (r, g, b) / sigma_rgb. Errors
// on non-positive sigmas and images that are not u8 [H,W,3] on the CPU.
std::vector<float> gaussian_features(int64_t height, int64_t width, float sigma_xy);
std::vector<float> bilateral_features(const Tensor& image_rgb, float sigma_xy, float sigma_rgb);

// The CRF's two kernels for an image of height x width (pixel i = y * width + x; features ordered x, y[, r, g, b]
// as densecrf orders them, which matters because the lattice is not isotropic). Sigmas must be positive.
std::shared_ptr<PairwiseKernel> make_gaussian_kernel(int64_t height, int64_t width, float sigma_xy,
                                                     KernelNormalization normalization,
                                                     FilterMethod method = FilterMethod::lattice);
// image_rgb: u8 [H,W,3].
std::shared_ptr<PairwiseKernel> make_bilateral_kernel(const Tensor& image_rgb, float sigma_xy, float sigma_rgb,
                                                      KernelNormalization normalization,
                                                      FilterMethod method = FilterMethod::lattice);

}  // namespace atrous::crf
