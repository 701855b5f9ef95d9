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

// unary_then_q: height x width rows of `stride` floats (stride a multiple of 8 >= labels; padding lanes hold a huge energy)
// with -log P on entry and Q after `iterations` updates on return. Q0 = softmax(-U); each update is
// Q <- softmax(-U + sum_k w_k Kn_k Q) for Potts terms (-w_k mu_k Kn_k Q for matrix ones). Runs on the OpenMP
// threads; a given thread count always gives the same result.
void lattice_mean_field(const std::vector<LatticeTerm>& terms, int64_t height, int64_t width, int labels,
                        int64_t stride, int iterations, float* unary_then_q);

}  // namespace atrous::crf
