// Dense-CRF command-line flags: preset + overrides.
#include "cli/crf_options.h"

#include "crf/cuda_dense_crf.h"
#include "crf/dense_crf.h"

namespace atrous::cli {

bool CrfFlags::any() const {
  return !preset.empty() || !std::isnan(bilateral_weight) || !std::isnan(bilateral_xy) || !std::isnan(bilateral_rgb) ||
         !std::isnan(gaussian_weight) || !std::isnan(gaussian_xy) || iterations >= 0 || !normalization.empty();
}

crf::DenseCrfParams CrfFlags::resolve(const std::string& default_preset) const {
  crf::DenseCrfParams p = crf::crf_preset(preset.empty() ? default_preset : preset).params;
  if (!std::isnan(bilateral_weight)) p.bilateral_weight = bilateral_weight;
  if (!std::isnan(bilateral_xy)) p.bilateral_xy = bilateral_xy;
  if (!std::isnan(bilateral_rgb)) p.bilateral_rgb = bilateral_rgb;
  if (!std::isnan(gaussian_weight)) p.gaussian_weight = gaussian_weight;
  if (!std::isnan(gaussian_xy)) p.gaussian_xy = gaussian_xy;
  if (iterations >= 0) p.iterations = iterations;
  if (!normalization.empty()) p.normalization = crf::normalization_by_name(normalization);
  p.validate();
  return p;
}

Tensor dense_crf_marginals(const Tensor& image_rgb, const Tensor& unary, const crf::DenseCrfParams& params,
                           Device device) {
  if (device.is_cuda()) return crf::cuda::dense_crf_cuda(image_rgb, unary, params, device.index);
  return crf::dense_crf_inference(image_rgb, unary, params).probabilities;
}

void add_crf_flags(CLI::App* cmd, CrfFlags& f) {
  const std::string names = crf::crf_presets().joined_names(", ");
  const char* group = "CRF (Kraehenbuehl & Koltun 2011; defaults from the preset)";
  cmd->add_option("--preset", f.preset, "CRF parameter preset: " + names)->group(group);
  cmd->add_option("--bilateral-weight", f.bilateral_weight, "w1, weight of the bilateral (appearance) kernel")
      ->group(group);
  cmd->add_option("--bilateral-xy", f.bilateral_xy, "sigma_alpha: the bilateral kernel's spatial sigma (pixels)")
      ->group(group);
  cmd->add_option("--bilateral-rgb", f.bilateral_rgb, "sigma_beta: the bilateral kernel's colour sigma (0..255)")
      ->group(group);
  cmd->add_option("--gaussian-weight", f.gaussian_weight, "w2, weight of the spatial smoothness kernel")->group(group);
  cmd->add_option("--gaussian-xy", f.gaussian_xy, "sigma_gamma: the spatial kernel's sigma (pixels)")->group(group);
  cmd->add_option("--iterations", f.iterations, "mean-field iterations")->group(group);
  cmd->add_option("--normalization", f.normalization,
                  "kernel normalisation: symmetric (densecrf's default), after (DeepLab's refine tool), before, none")
      ->group(group);
}

}  // namespace atrous::cli
