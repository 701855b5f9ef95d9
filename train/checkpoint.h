// Weights and training checkpoints as safetensors files: a module's state_dict alone (PyTorch-compatible names), or
// a whole training state (model, SGD momentum, iteration, lr, RNG states) in one atomically written file that
// resumes training bit for bit.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/safetensors.h"
#include "layers/module.h"
#include "solvers/sgd.h"

namespace atrous {

// ---- weights (they live here rather than in core/ because they need Module, which sits above core) ----

// The module's parameters and buffers under their state_dict names.
void save_module(const std::string& path, const Module& module, const std::map<std::string, std::string>& metadata = {},
                 const SafetensorsSaveOptions& options = {});

// Loads entries "<prefix><state_dict name>" one tensor at a time (converted to each target's dtype and device).
// strict: every tensor present with its shape and no unexpected entry under `prefix`, else an error naming the
// tensor, raised before anything is changed. Not strict: loads what fits and returns what was skipped in
// Module::load_state_dict's words ("missing: a", "unexpected: b", "shape mismatch: c [2,3] vs [3,2]").
std::vector<std::string> load_module(const std::string& path, Module& module, bool strict = true,
                                     const std::string& prefix = "");
std::vector<std::string> load_module(const SafetensorsFile& file, Module& module, bool strict = true,
                                     const std::string& prefix = "");

// ---- training checkpoints ----

// A counter-based generator's whole state.
struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;

  static GeneratorState of(const Generator& g) { return {g.seed(), g.offset()}; }
  void restore(Generator& g) const { g.set_state(seed, offset); }
  bool operator==(const GeneratorState& o) const { return seed == o.seed && offset == o.offset; }
};

// What a trainer needs besides the model and the optimizer to continue exactly where it stopped.
struct TrainingState {
  int64_t iteration = 0;  // optimizer steps taken
  int64_t epoch = 0;
  GeneratorState data_rng;     // sampling / shuffling / augmentation
  GeneratorState dropout_rng;  // the generator the model's Dropout layers draw from
  std::map<std::string, std::string> extra;  // anything else (best mIoU, run name, ...), stored as "extra.<key>"
};

// One safetensors file: model tensors as "model.<state_dict name>", momentum buffers as
// "optimizer.momentum.<parameter name>" (only those already created), and in __metadata__ the iteration, epoch,
// the optimizer's lr / momentum / weight decay / Nesterov flag / momentum style and the RNG states as exact decimal
// strings, plus `metadata` (e.g. the recorded inference settings; the checkpoint's own entries win).
// Every optimizer parameter must be a parameter of `model` (matched by identity). Atomic (see save_safetensors).
void save_checkpoint(const std::string& path, const Module& model, const Sgd& sgd, const TrainingState& state,
                     const std::map<std::string, std::string>& metadata = {});

// Restores the model's tensors, the momentum buffers and the lr, and returns the training state. The checkpoint
// must match exactly: same tensor names and shapes, an optimizer over the same parameters with the same momentum,
// weight decay, Nesterov flag and momentum style (a checkpoint without one is PyTorch-style); any mismatch is an
// error naming the tensor or setting, raised before the model or the optimizer is changed.
TrainingState load_checkpoint(const std::string& path, Module& model, Sgd& sgd);

// Only the model's tensors from a checkpoint (evaluation, fine-tuning with other optimizer settings).
std::vector<std::string> load_checkpoint_model(const std::string& path, Module& model, bool strict = true);

}  // namespace atrous
