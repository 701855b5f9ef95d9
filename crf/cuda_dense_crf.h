// The dense CRF on a CUDA device: the permutohedral lattice built on the GPU (a hash table in device memory filled
// with atomic compare-and-swap, compacted by a prefix sum; blur neighbours and a per-vertex gather list sorted by
// pixel, so every filter is deterministic), and the whole mean field on the device: unary, marginals and messages
// stay there from the first iteration to the last. Same model, parameters and lattice as the CPU code
// (crf/dense_crf.h); results agree up to float rounding. Implemented in crf/cuda_dense_crf.cu; a CPU-only
// build gets stubs that throw.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "crf/crf_params.h"

namespace atrous::crf::cuda {

// Built with CUDA and a device visible.
bool available();

struct CudaCrfStats {
  double build_ms = 0;                  // features upload, lattices, neighbours, gather lists, normalisation
  double inference_ms = 0;              // the mean-field iterations (unary upload and marginals download excluded)
  std::vector<int64_t> lattice_points;  // per kernel, in the order Gaussian, bilateral (weight-0 kernels left out)
  size_t device_bytes = 0;              // peak device memory this call held
};

// image_rgb: u8 [H,W,3] on the CPU; unary: f32 [H,W,L] energies on the CPU. Returns the marginals, f32 [H,W,L] on
// the CPU. d = 2 and 5 (the CRF's kernels) are supported; params.method must be lattice.
Tensor dense_crf_cuda(const Tensor& image_rgb, const Tensor& unary, const DenseCrfParams& params, int device = 0,
                      CudaCrfStats* stats = nullptr);

// One lattice filter on the device, for tests and benchmarks: the same contract as PermutohedralLattice::filter
// (host pointers in and out; n rows of `stride` floats; features n x d divided by their sigmas; d in 2..5).
void lattice_filter_cuda(const float* features, int64_t n, int d, const float* in, float* out, int64_t stride,
                         int device = 0, int64_t* lattice_points = nullptr);

}  // namespace atrous::crf::cuda
