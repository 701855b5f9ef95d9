// How the BatchNorm2d layers of a model train: with batch statistics and a running-average momentum ("train"),
// frozen (running statistics and fixed affine, as DeepLab v2 fine-tunes ResNet with small batches), or with
// TF's decay convention ("decay" 0.9997 in DeepLabv3, i.e. momentum 1 - decay = 0.0003).
#pragma once
#include <string>

#include "layers/module.h"

namespace atrous {

struct BnPolicy {
  std::string mode = "train";  // "train" | "frozen" | "decay"
  double momentum = 0.1;       // train: PyTorch convention, running = (1 - m) running + m batch
  double decay = 0.9997;       // decay: TF convention, running = decay running + (1 - decay) batch

  // Unknown modes and out-of-range momentum/decay are an atrous::Error naming the setting.
  void validate() const;
  // The momentum BatchNorm2d gets in "train"/"decay" mode.
  double effective_momentum() const;
  std::string str() const;  // one line for logs, e.g. "decay 0.9997 (momentum 0.0003)"
};

// Applies the policy to every BatchNorm2d in `module` (itself included) and returns how many it changed.
// Frozen layers' weight/bias stop requiring gradients, so call this before building the optimiser's parameter
// groups (Module::param_groups leaves frozen parameters out).
int apply_bn_policy(Module& module, const BnPolicy& policy);

}  // namespace atrous
