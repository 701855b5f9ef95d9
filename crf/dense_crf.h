// The fully connected CRF (Kraehenbuehl & Koltun, NIPS 2011) and its mean-field inference (their eq. 4 / Alg. 1):
// Q <- softmax(-U - sum_k w_k mu_k Kn_k Q), starting from Q = softmax(-U). With Potts mu = [l != l'] the message
// reduces to + w_k (Kn_k Q)(l) (the rest is constant over labels), as densecrf computes it. The kernels keep the
// self pair (i = j) in K and in its normalisation, as densecrf does.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "crf/crf_params.h"
#include "crf/pairwise_kernel.h"

namespace atrous::crf {

// mu(l, l'): the energy of labels l and l' at two connected pixels, before the kernel's weight.
struct LabelCompatibility {
  static LabelCompatibility potts() { return {}; }
  static LabelCompatibility matrix(int labels, std::vector<float> mu);  // row-major labels x labels
  bool is_potts() const { return mu.empty(); }
  int labels = 0;
  std::vector<float> mu;
};

struct DenseCrfResult {
  Tensor probabilities;  // f32 [H,W,L]
  Tensor labels;         // i32 [H,W], argmax of the probabilities (the first of equal maxima)
};

class DenseCrf {
 public:
  DenseCrf(int64_t height, int64_t width, int labels);

  // Adds the term w * mu(x_i, x_j) * kn(i, j). The kernel must cover height * width pixels; kernels are shared, so
  // one image's kernels can serve several models (e.g. a parameter search over weights).
  void add_pairwise(std::shared_ptr<const PairwiseKernel> kernel, float weight,
                    LabelCompatibility compatibility = LabelCompatibility::potts());

  // unary: f32 [H,W,L] energies (-log P). Returns the marginals Q, f32 [H,W,L], after `iterations` updates.
  Tensor mean_field(const Tensor& unary, int iterations) const;
  // The marginals and their argmax, found by the last update while each pixel's row is at hand (no second pass
  // over Q).
  DenseCrfResult mean_field_with_labels(const Tensor& unary, int iterations) const;
  // KL(Q || P) - log Z = sum Q log Q + sum Q U + 1/2 sum_k w_k sum_i sum_{l,l'} Q_i(l) mu_k(l,l') (Kn_k Q)_i(l'):
  // the mean-field objective (paper sec. 3), for checking that inference lowers it.
  double kl_divergence(const Tensor& unary, const Tensor& q) const;
  // E(x) = sum_i U_i(x_i) + 1/2 sum_k w_k sum_{i,j} mu_k(x_i, x_j) Kn_k(i,j) for labels x: integer [H,W].
  double energy(const Tensor& unary, const Tensor& labels) const;

  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  int labels() const { return labels_; }

 private:
  struct Term {
    std::shared_ptr<const PairwiseKernel> kernel;
    float weight;
    LabelCompatibility compatibility;
  };
  void check_unary(const Tensor& unary, const char* op) const;
  DenseCrfResult infer(const Tensor& unary, int iterations, bool with_labels) const;
  // sum_i sum_l q_i(l) (entropy ? log q_i(l) : 0) + q U + pairwise, for padded q (n x stride).
  double objective(const Tensor& unary, const float* q, int64_t stride, bool entropy) const;

  int64_t height_, width_;
  int labels_;
  std::vector<Term> terms_;
};

// Unary energies -log P from probabilities f32 [H,W,L] (each >= 0; zeros floored at 1e-20 so that -log stays
// finite); errors on NaN, negative or all-zero pixels.
Tensor unary_from_probabilities(const Tensor& probabilities);
// -log softmax(logits) for f32 [H,W,L] logits; errors on non-finite values.
Tensor unary_from_logits(const Tensor& logits);

// The CRF of one image with params' two Potts (or matrix) kernels; image_rgb: u8 [H,W,3]. Terms with weight 0 are
// left out (and their lattices never built).
DenseCrf make_dense_crf(const Tensor& image_rgb, int labels, const DenseCrfParams& params);

// unary: f32 [H,W,L] energies, same H,W as the image.
DenseCrfResult dense_crf_inference(const Tensor& image_rgb, const Tensor& unary, const DenseCrfParams& params);

// The evaluator's and segment's hook: refined probabilities f32 [H,W,C] from logits [H,W,C] (argmax them for
// labels).
Tensor crf_refine_logits(const Tensor& image_rgb_u8, const Tensor& logits_hwc, const DenseCrfParams& params = {});
Tensor crf_refine_probabilities(const Tensor& image_rgb_u8, const Tensor& probabilities_hwc,
                                const DenseCrfParams& params = {});

}  // namespace atrous::crf
