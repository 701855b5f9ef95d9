// Synchronized batch norm: in Train mode the batch statistics are those of the global batch, every rank's images
// together (sums all-reduced over the communicator), and backward all-reduces the two per-channel sums the input
// gradient needs. With N ranks of batch B the forward, the input gradient and (after the trainer sums gradients over
// ranks) the weight and bias gradients are those of one process with batch N x B. Eval and Frozen modes normalise
// with the running statistics, as batch_norm does, without communicating.
#pragma once
#include "core/ops/batch_norm.h"
#include "dist/communicator.h"

namespace atrous::dist {

// The arguments of atrous::batch_norm plus the ranks to synchronise over. x [N,H,W,C] f32/f64 on any device:
// device tensors are normalised through host memory (correct everywhere, not yet fast on GPUs).
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, const BatchNormParams& params, Communicator& comm);

}  // namespace atrous::dist
