// Mean-field inference of a dense CRF whose kernels are permutohedral lattices, fused per pixel: one pass over the
// pixels per iteration slices every kernel's blurred lattice into the pixel's energy, takes the softmax and splats
// the new Q straight into every kernel's lattice for the next iteration. Q is never written out between
// iterations, the filtered messages never exist as images, and each pixel's vertex indices and weights are read
// once per iteration for both the slice and the splat. The same sums as filtering Q with
// PermutohedralLattice::filter and updating, in the same order, up to float rounding.
#pragma once
#include <cstdint>
#include <vector>

#include "crf/permutohedral_lattice.h"

namespace atrous::crf {

struct LatticeTerm {
  const PermutohedralLattice* lattice;
  const float* pre_scale;   // per pixel factor before the filter (null: ones), as in PermutohedralLattice::filter
  const float* post_scale;  // per pixel factor after it (null: ones)
  float weight;             // the term's w
  const float* mu;          // labels x labels compatibility energies, null for Potts
};

// What the last pass writes: Q after the updates, height x width rows of `labels` floats (not padded), and where
// `labels` is not null each pixel's most probable label (the first of equal maxima, as std::max_element over its
// row of Q), found while the row is at hand instead of in another pass over Q.
struct MeanFieldOutput {
  float* q;
  int32_t* labels;
};

// unary: height x width rows of `stride` floats (stride a multiple of 8 >= labels; padding lanes hold a huge
// energy), -log P. Q0 = softmax(-U); each update is Q <- softmax(-U + sum_k w_k Kn_k Q) for Potts terms
// (-w_k mu_k Kn_k Q for matrix ones); `out` gets Q after `iterations` updates. Runs on the OpenMP threads; a given
// thread count always gives the same result.
void lattice_mean_field(const std::vector<LatticeTerm>& terms, int64_t height, int64_t width, int labels,
                        int64_t stride, int iterations, const float* unary, MeanFieldOutput out);

}  // namespace atrous::crf
