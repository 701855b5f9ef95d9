// How the BatchNorm2d layers of a model train: with batch statistics and a running-average momentum ("train"),
// frozen (running statistics and fixed affine, as DeepLab v2 fine-tunes ResNet with small batches), or with
// TF's decay convention ("decay" 0.9997 in DeepLabv3, i.e. momentum 1 - decay = 0.0003), or as "train" with the batch
// statistics of every data-parallel rank together ("sync", dist/sync_batch_norm.h).
#pragma once
#include <memory>
#include <string>

#include "core/named_registry.h"
#include "layers/module.h"

namespace atrous::dist {
class Communicator;  // dist/communicator.h
}  // namespace atrous::dist

namespace atrous {

enum class BnPolicyMode { train, frozen, decay, sync };
const NamedValues<BnPolicyMode>& bn_policy_modes();  // "train", "frozen", "decay", "sync"

struct BnPolicy {
  BnPolicyMode mode = BnPolicyMode::train;
  double momentum = 0.1;       // train, sync: PyTorch convention, running = (1 - m) running + m batch
  double decay = 0.9997;       // decay: TF convention, running = decay running + (1 - decay) batch

  // Out-of-range momentum/decay are an atrous::Error naming the setting.
  void validate() const;
  // The momentum BatchNorm2d gets in "train"/"decay"/"sync" mode.
  double effective_momentum() const;
  std::string str() const;  // one line for logs, e.g. "decay 0.9997 (momentum 0.0003)"
};

// Applies the policy to every BatchNorm2d in `module` (itself included) and returns how many it changed.
// Frozen layers' weight/bias stop requiring gradients, so call this before building the optimiser's parameter
// groups (Module::param_groups leaves frozen parameters out).
// "sync" synchronises over `ranks` (required then); every other mode makes the layers use their own batch.
int apply_bn_policy(Module& module, const BnPolicy& policy,
                    const std::shared_ptr<dist::Communicator>& ranks = nullptr);

}  // namespace atrous
