// Dense-CRF parameter checks and DeepLab's presets.
#include "crf/crf_params.h"

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace atrous::crf {
namespace {

DenseCrfParams params(float w1, float sa, float sb, float w2, float sg) {
  DenseCrfParams p;
  p.bilateral_weight = w1;
  p.bilateral_xy = sa;
  p.bilateral_rgb = sb;
  p.gaussian_weight = w2;
  p.gaussian_xy = sg;
  return p;
}

void check_weight(const char* what, float w) {
  ATROUS_CHECK(std::isfinite(w) && w >= 0.0f, "dense CRF: ", what, " must be a finite number >= 0, got ", w);
}

void check_sigma(const char* what, float s) {
  ATROUS_CHECK(std::isfinite(s) && s > 0.0f, "dense CRF: ", what, " must be a positive number, got ", s);
}

void check_matrix(const char* what, const std::vector<float>& mu, int labels) {
  if (mu.empty()) return;
  if (labels > 0)
    ATROUS_CHECK(static_cast<int64_t>(mu.size()) == int64_t(labels) * labels, "dense CRF: the ", what,
                 " compatibility matrix has ", mu.size(), " entries, expected ", labels, "x", labels);
  for (float v : mu) ATROUS_CHECK(std::isfinite(v), "dense CRF: the ", what, " compatibility matrix holds ", v);
}

}  // namespace

void DenseCrfParams::validate(int labels) const {
  check_weight("bilateral weight (w1)", bilateral_weight);
  check_weight("Gaussian weight (w2)", gaussian_weight);
  check_sigma("bilateral sigma_xy (sigma_alpha)", bilateral_xy);
  check_sigma("bilateral sigma_rgb (sigma_beta)", bilateral_rgb);
  check_sigma("Gaussian sigma_xy (sigma_gamma)", gaussian_xy);
  ATROUS_CHECK(iterations >= 0 && iterations <= 1000, "dense CRF: iterations must be in [0, 1000], got ", iterations);
  check_matrix("bilateral", bilateral_compatibility, labels);
  check_matrix("Gaussian", gaussian_compatibility, labels);
}

std::string DenseCrfParams::str() const {
  std::ostringstream out;
  out << "w1=" << bilateral_weight << " sa=" << bilateral_xy << " sb=" << bilateral_rgb << " w2=" << gaussian_weight
      << " sg=" << gaussian_xy << " iterations=" << iterations
      << " normalization=" << normalization_name(normalization);
  if (!bilateral_compatibility.empty() || !gaussian_compatibility.empty()) out << " compatibility=matrix";
  if (method == FilterMethod::exact) out << " method=exact";
  return out.str();
}

// The numbers are not in the papers (which give only the search ranges); they are the cross-validated settings
// DeepLab released with its models: v1's run_pascal.sh lists one line per model, v2's test prototxts carry
// crf_param blocks (VGG-16 and ResNet-101), as reimplementations quote them. v2's spatial terms (2/2, 3/1) differ
// from the paper's stated w2 = 3, sigma_gamma = 3; they are what the released models used.
const NamedRegistry<CrfPreset>& crf_presets() {
  static const NamedRegistry<CrfPreset> presets("dense CRF preset", {
      {"deeplab-v1-largefov", "DeepLab-CRF-LargeFOV (v1, VGG-16), released run_pascal.sh", params(4, 121, 5, 3, 3)},
      {"deeplab-v1", "DeepLab-CRF (v1, VGG-16, 4x4 fc6), released run_pascal.sh", params(5, 50, 10, 3, 3)},
      {"deeplab-v1-msc", "DeepLab-MSc-CRF (v1, VGG-16), released run_pascal.sh", params(3, 95, 3, 3, 3)},
      {"deeplab-v1-msc-largefov", "DeepLab-MSc-CRF-LargeFOV (v1, VGG-16), released run_pascal.sh",
       params(4, 83, 5, 3, 3)},
      {"deeplab-v1-coco-largefov", "DeepLab-CRF-COCO-LargeFOV (v1, VGG-16), released run_pascal.sh",
       params(5, 69, 5, 3, 3)},
      {"deeplab-v2-vgg16", "DeepLab v2 VGG-16 (LargeFOV/ASPP), released test prototxt", params(4, 65, 3, 2, 2)},
      {"deeplab-v2-resnet101", "DeepLab v2 ResNet-101, released test prototxt", params(4, 67, 3, 3, 1)},
      {"densecrf-demo", "Kraehenbuehl's densecrf example program (not a DeepLab setting)", params(10, 80, 13, 3, 3)},
  });
  return presets;
}

const CrfPreset& crf_preset(const std::string& name) { return crf_presets().get(name); }

const CrfPreset& crf_preset_for_model(const std::string& model) {
  const auto starts = [&](const char* prefix) { return model.rfind(prefix, 0) == 0; };
  if (starts("deeplab-v1-msc")) return crf_preset("deeplab-v1-msc-largefov");
  if (starts("deeplab-v1-largefov")) return crf_preset("deeplab-v1-largefov");
  if (starts("deeplab-v1-")) return crf_preset("deeplab-v1");
  if (starts("deeplab-v2-vgg16")) return crf_preset("deeplab-v2-vgg16");
  if (model.find("resnet") != std::string::npos) return crf_preset("deeplab-v2-resnet101");
  return crf_preset("deeplab-v1-largefov");
}

}  // namespace atrous::crf
