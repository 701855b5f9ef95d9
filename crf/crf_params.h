// Parameters of the dense CRF as DeepLab uses it (Kraehenbuehl & Koltun 2011, eq. 3; DeepLab v2 sec. 3.3):
// E(x) = sum_i U_i(x_i) + sum_{i<j} mu(x_i, x_j) [w1 exp(-|p_i-p_j|^2/2sa^2 - |I_i-I_j|^2/2sb^2)
//                                                 + w2 exp(-|p_i-p_j|^2/2sg^2)],
// and DeepLab's published per-model settings as named presets.
#pragma once
#include <string>
#include <vector>

#include "core/named_registry.h"
#include "crf/pairwise_kernel.h"

namespace atrous::crf {

struct DenseCrfParams {
  // Defaults: DeepLab-CRF-LargeFOV's cross-validated values (preset deeplab-v1-largefov), with the paper's
  // w2 = 3, sigma_gamma = 3.
  float bilateral_weight = 4.0f;  // w1
  float bilateral_xy = 121.0f;    // sigma_alpha, pixels
  float bilateral_rgb = 5.0f;     // sigma_beta, RGB units (0..255)
  float gaussian_weight = 3.0f;   // w2
  float gaussian_xy = 3.0f;       // sigma_gamma, pixels
  int iterations = 10;
  // densecrf's default; DeepLab's own refine tool used `after`.
  KernelNormalization normalization = KernelNormalization::symmetric;
  // Optional L x L label compatibility mu(l, l') per kernel (row-major energies, multiplied by the kernel's
  // weight); empty means Potts, mu = [l != l']. densecrf's MatrixCompatibility M corresponds to mu = -M.
  std::vector<float> bilateral_compatibility;
  std::vector<float> gaussian_compatibility;
  FilterMethod method = FilterMethod::lattice;  // `exact` only for tiny images (tests)

  // Errors on non-finite or negative weights, non-positive sigmas, iterations outside [0, 1000], and a
  // compatibility matrix whose size is not labels^2 (labels <= 0 skips that check).
  void validate(int labels = 0) const;
  std::string str() const;  // "w1=4 sa=121 sb=5 w2=3 sg=3 iterations=10 normalization=symmetric"
};

struct CrfPreset {
  std::string name;
  std::string source;  // the model and where the numbers were published
  DenseCrfParams params;
};

// DeepLab's released CRF settings, per backbone/variant, plus densecrf's own demo settings.
const NamedRegistry<CrfPreset>& crf_presets();
// Errors name the preset and list the known ones.
const CrfPreset& crf_preset(const std::string& name);
// The preset DeepLab published for a registered model name (see `atrous models`); deeplab-v1-largefov otherwise.
const CrfPreset& crf_preset_for_model(const std::string& model_name);

}  // namespace atrous::crf
