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
    const bool frozen = policy.mode == "frozen";
    bn->set_frozen(frozen);
    if (!frozen) bn->set_momentum(policy.effective_momentum());
    bn->set_sync(sync);
    ++changed;
  }
  for (auto& child : module.children()) changed += apply_recursive(*child.second, policy, sync);
  return changed;
}

}  // namespace

void BnPolicy::validate() const {
  ATROUS_CHECK(mode == "train" || mode == "frozen" || mode == "decay" || mode == "sync", "BnPolicy: unknown mode '",
               mode, "' (known: train, frozen, decay, sync)");
  if (mode == "train" || mode == "sync")
    ATROUS_CHECK(std::isfinite(momentum) && momentum > 0 && momentum <= 1,
                 "BnPolicy: train momentum must be in (0, 1], got ", momentum);
  if (mode == "decay")
    ATROUS_CHECK(std::isfinite(decay) && decay >= 0 && decay < 1, "BnPolicy: decay must be in [0, 1), got ", decay);
}

double BnPolicy::effective_momentum() const {
  validate();
  ATROUS_CHECK(mode != "frozen", "BnPolicy: frozen batch norm has no momentum");
  return mode == "decay" ? 1.0 - decay : momentum;
}

std::string BnPolicy::str() const {
  std::ostringstream out;
  out << mode;
  if (mode == "train" || mode == "sync") out << " (momentum " << momentum << ")";
  if (mode == "decay") out << " " << decay << " (momentum " << 1.0 - decay << ")";
  return out.str();
}

int apply_bn_policy(Module& module, const BnPolicy& policy, const std::shared_ptr<dist::Communicator>& ranks) {
  policy.validate();
  ATROUS_CHECK(policy.mode != "sync" || ranks, "BnPolicy: sync batch norm needs the ranks to synchronise over");
  return apply_recursive(module, policy, policy.mode == "sync" ? ranks : nullptr);
}

}  // namespace atrous
