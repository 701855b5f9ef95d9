#include "solvers/bn_policy.h"

#include <cmath>
#include <sstream>

#include "dist/communicator.h"
#include "layers/batch_norm2d.h"

namespace atrous {

namespace {

int apply_recursive(Module& module, const BnPolicy& policy, const std::shared_ptr<dist::Communicator>& sync) {
  int changed = 0;
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&module)) {
    const bool frozen = policy.mode == BnPolicyMode::frozen;
    bn->set_frozen(frozen);
    if (!frozen) bn->set_momentum(policy.effective_momentum());
    bn->set_sync(sync);
    ++changed;
  }
  for (auto& child : module.children()) changed += apply_recursive(*child.second, policy, sync);
  return changed;
}

}  // namespace

const NamedValues<BnPolicyMode>& bn_policy_modes() {
  static const NamedValues<BnPolicyMode> names("bn mode", {{"train", BnPolicyMode::train},
                                                             {"frozen", BnPolicyMode::frozen},
                                                             {"decay", BnPolicyMode::decay},
                                                             {"sync", BnPolicyMode::sync}});
  return names;
}

void BnPolicy::validate() const {
  if (mode == BnPolicyMode::train || mode == BnPolicyMode::sync)
    ATROUS_CHECK(std::isfinite(momentum) && momentum > 0 && momentum <= 1,
                 "BnPolicy: train momentum must be in (0, 1], got ", momentum);
  if (mode == BnPolicyMode::decay)
    ATROUS_CHECK(std::isfinite(decay) && decay >= 0 && decay < 1, "BnPolicy: decay must be in [0, 1), got ", decay);
}

double BnPolicy::effective_momentum() const {
  validate();
  ATROUS_CHECK(mode != BnPolicyMode::frozen, "BnPolicy: frozen batch norm has no momentum");
  return mode == BnPolicyMode::decay ? 1.0 - decay : momentum;
}

std::string BnPolicy::str() const {
  std::ostringstream out;
  out << bn_policy_modes().name_of(mode);
  if (mode == BnPolicyMode::train || mode == BnPolicyMode::sync) out << " (momentum " << momentum << ")";
  if (mode == BnPolicyMode::decay) out << " " << decay << " (momentum " << 1.0 - decay << ")";
  return out.str();
}

int apply_bn_policy(Module& module, const BnPolicy& policy, const std::shared_ptr<dist::Communicator>& ranks) {
  policy.validate();
  ATROUS_CHECK(policy.mode != BnPolicyMode::sync || ranks,
               "BnPolicy: sync batch norm needs the ranks to synchronise over");
  return apply_recursive(module, policy, policy.mode == BnPolicyMode::sync ? ranks : nullptr);
}

}  // namespace atrous
