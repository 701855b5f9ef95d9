// Data-parallel gradient averaging's communication: every rank's gradients summed, in buckets (one all-reduce per
// bucket of consecutive gradients of one dtype, ~16 MB each, instead of one per parameter).
#pragma once
#include <vector>

#include "core/tensor.h"
#include "dist/communicator.h"

namespace atrous::dist {

struct GradientReductionStats {
  int64_t bytes = 0;    // payload all-reduced (per rank)
  int64_t buckets = 0;  // all-reduce calls
};

// Sums the gradients of `params` over every rank, in place. Every rank must pass the same parameters in the same
// order. A parameter that no backward reached on some rank counts as a zero gradient there; one that no rank's
// backward reached keeps no gradient (as one process would). Device gradients are flattened on their device and
// reduced by the backend (NCCL in device memory, MPI through host memory).
GradientReductionStats all_reduce_gradients(Communicator& comm, const std::vector<Tensor>& params);

}  // namespace atrous::dist
