// The dense-CRF flags shared by `crf-refine`, `crf-search` and `segment --crf`: a named preset (DeepLab's settings)
// and per-parameter overrides on top of it.
#pragma once
#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

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

// Adds --preset, --bilateral-weight, --bilateral-xy, --bilateral-rgb, --gaussian-weight, --gaussian-xy,
// --iterations and --normalization to `cmd`, in the group "CRF".
void add_crf_flags(CLI::App* cmd, CrfFlags& flags);

}  // namespace atrous::cli
