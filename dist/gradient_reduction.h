// Data-parallel gradient averaging's communication: every rank's gradients summed, in buckets (one all-reduce per
// bucket of parameters of one dtype and device, ~16 MB each, instead of one per parameter), each bucket started as
// soon as backward has completed its gradients, so that communication runs while backward computes the rest.
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/autograd.h"
#include "core/tensor.h"
#include "dist/communicator.h"

namespace atrous::dist {

struct GradientReductionStats {
  int64_t bytes = 0;                        // payload all-reduced (per rank)
  int64_t buckets = 0;                      // all-reduce calls
  int64_t buckets_started_in_backward = 0;  // of those, started before backward ended (the overlapped ones)
  double wait_seconds =
      0;  // time finish() took (the rest started, all awaited, sums written): what backward did not hide
};

// Sums the gradients of `params` over every rank, in place, one step at a time:
//
//   GradientReducer reducer(comm, params);           // once
//   { auto overlap = reducer.overlap_with_backward();  // every step, around the step's (last) backward
//     loss.backward(); }
//   reducer.finish();                                 // before the optimizer step
//
// Every rank must pass the same parameters in the same order. Buckets are filled in reverse parameter order (the order
// backward completes gradients in, roughly) and started strictly in bucket order on every rank, as MPI and NCCL
// require. A parameter that no backward reached on some rank counts as a zero gradient there; one that no rank's
// backward reached keeps no gradient (as one process would). Device gradients are flattened on their device and
// reduced by the backend (NCCL in device memory, MPI through host memory).
class GradientReducer {
 public:
  GradientReducer(Communicator& comm, std::vector<Tensor> params);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // While the returned hook lives, each bucket's all-reduce starts once backward on this thread has completed every
  // gradient in it (and the buckets before it). Wrap only the last backward of a step (gradients accumulated over
  // several backward passes are complete only in the last). One process: no hook, nothing to do.
  std::unique_ptr<ScopedLeafGradientHook> overlap_with_backward();
  // Starts the buckets backward did not, waits for all, writes the sums to the gradients; ready for the next step.
  GradientReductionStats finish();

 private:
  void on_leaf_ready(const TensorImpl& leaf);
  void start_ready_buckets();
  void start_bucket(size_t b);

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<std::vector<size_t>> buckets_;  // parameter indices, in the order buckets are started
  std::unordered_map<const TensorImpl*, size_t> index_of_;
  std::vector<size_t> bucket_of_;
  // This step's state.
  std::vector<bool> ready_;
  std::vector<size_t> ready_in_bucket_;
  size_t next_bucket_ = 0;
  std::vector<Tensor> flat_;
  std::vector<std::unique_ptr<PendingCollective>> pending_;
  bool in_backward_ = false;
  int64_t started_in_backward_ = 0;
};

// One-shot form: sums the gradients backward left in `params` (no overlap).
GradientReductionStats all_reduce_gradients(Communicator& comm, const std::vector<Tensor>& params);

}  // namespace atrous::dist
