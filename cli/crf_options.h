// The dense-CRF flags shared by `crf-refine`, `crf-search` and `segment --crf`: a named preset (DeepLab's settings)
// and per-parameter overrides on top of it.
#pragma once
#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

#include "core/tensor.h"
#include "crf/crf_params.h"

namespace atrous::cli {

struct CrfFlags {
  std::string preset;  // empty: the caller's default
  float bilateral_weight = NAN, bilateral_xy = NAN, bilateral_rgb = NAN;
  float gaussian_weight = NAN, gaussian_xy = NAN;
  int iterations = -1;
  std::string normalization;

  bool any() const;  // was any CRF flag given?
  // The preset (or `default_preset` when none was named), then every flag that was given. Validated.
  crf::DenseCrfParams resolve(const std::string& default_preset) const;
};

// The CRF's marginals f32 [H,W,C] on the CPU for an image u8 [H,W,3] and unary energies f32 [H,W,C] (both on the
// CPU), computed on `device`: the CPU lattice (crf/dense_crf.h) or crf::cuda::dense_crf_cuda (the same model and
// lattice on the GPU; results agree up to float rounding).
Tensor dense_crf_marginals(const Tensor& image_rgb, const Tensor& unary, const crf::DenseCrfParams& params,
                           Device device);

// Adds --preset, --bilateral-weight, --bilateral-xy, --bilateral-rgb, --gaussian-weight, --gaussian-xy,
// --iterations and --normalization to `cmd`, in the group "CRF".
void add_crf_flags(CLI::App* cmd, CrfFlags& flags);

}  // namespace atrous::cli
