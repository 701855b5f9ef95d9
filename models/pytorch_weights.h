// Weights moving between PyTorch and us: a PyTorch state dict (conv weights OIHW, BN num_batches_tracked) converted
// into a Module (conv weights [O,KH,KW,I]) guided by the module's own names and shapes, and the reverse export that
// PyTorch's load_state_dict accepts as it is. Names are never guessed: they match, or are renamed by explicit prefix
// rules, or are reported.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "layers/module.h"

namespace atrous {

// Safetensors metadata saying how a weights file is laid out. Our native files (and convert-weights output) carry
// kLayoutKey = kAtrousLayout; exports to PyTorch carry kLayoutKey = kPytorchLayout and "format": "pt" (what
// Hugging Face's torch writer puts there). Files with neither are recognised by their shapes (load_weights_any).
inline constexpr const char* kLayoutKey = "layout";
inline constexpr const char* kAtrousLayout = "atrous-nhwc";
inline constexpr const char* kPytorchLayout = "pytorch-oihw";

// A source-name rewrite: names starting with `from` have that part replaced by `to` ("" matches every name, so
// {"", "backbone."} places a torchvision resnet50 state dict under a DeepLab model's backbone).
struct PrefixRename {
  std::string from;
  std::string to;
};

struct ImportOptions {
  // Strict: every source tensor lands somewhere and every expected model tensor is filled; otherwise an error
  // naming the tensor, raised before the model is changed. Not strict: what fits loads, the rest is reported.
  // Shape mismatches are errors either way (skip the tensor explicitly to replace, say, a classifier).
  bool strict = true;
  std::vector<std::string> skip_prefixes;  // source names (as in the file) dropped and reported as skipped
  std::vector<PrefixRename> renames;       // applied to the remaining source names; the first match wins
  // Non-empty: only model tensors under these prefixes are expected (a backbone-only load); others keep their
  // values without being reported missing.
  std::vector<std::string> target_prefixes;
};

// What an import did, for printing ("atrous convert-weights" lists it).
struct ImportReport {
  int loaded = 0;
  std::vector<std::string> skipped;     // source names dropped by skip_prefixes
  std::vector<std::string> unexpected;  // not strict: source names (after renaming) the model does not have
  std::vector<std::string> missing;     // not strict: expected model tensors the source did not provide
  // One line per entry: "skipped: fc.weight", "unexpected: x", "missing: y".
  std::vector<std::string> lines() const;
};

// torchvision's resnet50/101 classification state dict into a model's ResNet: every name moved under
// `backbone_prefix` ("backbone." for our DeepLab ResNet models, "" when loading into a ResNet itself), fc.* skipped,
// only the backbone expected.
ImportOptions torchvision_resnet_import_options(const std::string& backbone_prefix = "backbone.");
// torchvision's vgg16 classification state dict into the VGG-16 DeepLab models: features.* by name, the
// classifier.* (fully connected, not DeepLab's decimated fc6/fc7) skipped, only features.* expected.
ImportOptions torchvision_vgg16_import_options();

// PyTorch-layout tensors -> `module`. 4-D tensors are permuted OIHW -> [O,KH,KW,I]; a 2-D Linear weight [O,I] fills
// a 1x1 conv [O,1,1,I]; *.num_batches_tracked is dropped. Values are converted to each target's dtype and device.
ImportReport load_pytorch_state_dict(Module& module, const std::map<std::string, Tensor>& state,
                                     const ImportOptions& options = {});
// The same from a safetensors file, one tensor in memory at a time (planned from the header first).
ImportReport import_pytorch_weights(const std::string& path, Module& module, const ImportOptions& options = {});
ImportReport import_pytorch_weights(const SafetensorsFile& file, Module& module, const ImportOptions& options = {});

// `module`'s state dict in PyTorch's layout: the same names, 4-D tensors as contiguous OIHW CPU tensors.
std::map<std::string, Tensor> to_pytorch_state_dict(const Module& module);
// Writes to_pytorch_state_dict with metadata {"format": "pt", "layout": "pytorch-oihw"} (atomic, f32 kept), for
// torch.load_state_dict(safetensors.torch.load_file(path)).
void export_pytorch_weights(const std::string& path, const Module& module,
                            const std::map<std::string, std::string>& metadata = {});
// Our own layout with the kAtrousLayout marker (so any reader can tell it from a PyTorch file).
void save_atrous_weights(const std::string& path, const Module& module,
                         const std::map<std::string, std::string>& metadata = {});

enum class WeightsLayout {
  atrous,   // our names and layout (save_module / save_atrous_weights output)
  pytorch,  // PyTorch's layout (torch state dicts, export_pytorch_weights output)
  atrous_checkpoint,  // a training checkpoint (train/checkpoint.h): the model's tensors under "model."
};
const char* weights_layout_name(WeightsLayout layout);

// The layout of `file` for loading into `module`: the metadata decides when it says ("layout", "format": "pt",
// "atrous.format": "checkpoint"); otherwise the 4-D tensors the module also has vote: those whose shape only fits
// as stored say atrous, those that only fit permuted say PyTorch (a 3x3 conv on 3 channels fits both and does
// not vote). Conflicting votes, or only ambiguous ones, are an error naming the file.
WeightsLayout detect_weights_layout(const SafetensorsFile& file, const Module& module);

// What `atrous segment --weights` and friends call: detects the layout, converts PyTorch files, and skips
// torchvision's aux_classifier.* when the module has no auxiliary head. strict as in ImportOptions.
ImportReport load_weights_any(const std::string& path, Module& module, bool strict = true);

}  // namespace atrous
