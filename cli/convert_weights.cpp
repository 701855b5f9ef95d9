// `atrous convert-weights`: PyTorch state dicts (conv weights OIHW, torchvision names) into a registered model's
// weights file in our layout, or our weights out to a file PyTorch's load_state_dict reads; prints what was skipped.
#include <cstdio>

#include "cli/commands.h"
#include "core/error.h"
#include "models/pytorch_weights.h"
#include "models/registry.h"

namespace atrous::cli {
namespace {

struct ConvertOptions {
  std::string model;
  int classes = 21;
  std::string from_pytorch;
  std::string to_pytorch;
  std::string out;
  std::string backbone;  // "resnet" or "vgg16": a torchvision classification state dict into the backbone
  std::vector<std::string> skip, only, renames;
  bool non_strict = false;
};

PrefixRename parse_rename(const std::string& text) {
  const size_t eq = text.find('=');
  ATROUS_CHECK(eq != std::string::npos, "convert-weights: --rename wants FROM=TO (FROM may be empty), got '", text,
               "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

void print_report(const ImportReport& report) {
  for (const std::string& line : report.lines()) std::printf("  %s\n", line.c_str());
}

void run_convert(const ConvertOptions& o) {
  ModelOptions model_options;
  model_options.num_classes = o.classes;
  auto model = create_model(o.model, model_options);
  const std::map<std::string, std::string> meta = {{"model", o.model}, {"classes", std::to_string(o.classes)}};

  if (!o.to_pytorch.empty()) {
    const ImportReport report = load_weights_any(o.to_pytorch, *model, !o.non_strict);
    export_pytorch_weights(o.out, *model, meta);
    std::printf("%s: %d tensors into %s (%d classes); wrote %s in PyTorch's layout (conv weights OIHW)\n",
                o.to_pytorch.c_str(), report.loaded, o.model.c_str(), o.classes, o.out.c_str());
    print_report(report);
    return;
  }

  ImportOptions options;
  if (o.backbone == "resnet") {
    options = torchvision_resnet_import_options("backbone.");
  } else if (o.backbone == "vgg16") {
    options = torchvision_vgg16_import_options();
  }
  options.strict = !o.non_strict;
  options.skip_prefixes.insert(options.skip_prefixes.end(), o.skip.begin(), o.skip.end());
  for (const std::string& r : o.renames) options.renames.push_back(parse_rename(r));
  options.target_prefixes.insert(options.target_prefixes.end(), o.only.begin(), o.only.end());
  // torchvision's segmentation checkpoints carry an auxiliary head (aux_loss) that our models do not have.
  bool has_aux = false;
  for (const auto& [name, t] : model->state_dict()) has_aux = has_aux || name.rfind("aux_classifier.", 0) == 0;
  if (!has_aux) options.skip_prefixes.push_back("aux_classifier.");

  const ImportReport report = import_pytorch_weights(o.from_pytorch, *model, options);
  save_atrous_weights(o.out, *model, meta);
  std::printf("%s: %d tensors converted into %s (%d classes); wrote %s in our layout (conv weights [O,KH,KW,I])\n",
              o.from_pytorch.c_str(), report.loaded, o.model.c_str(), o.classes, o.out.c_str());
  print_report(report);
  if (!options.target_prefixes.empty() || !report.missing.empty())
    std::printf("  tensors not loaded keep the model's initialisation (seed %llu)\n",
                static_cast<unsigned long long>(model_options.seed));
}

}  // namespace

void register_convert_weights(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert-weights", "Convert PyTorch weights (torchvision names, OIHW convs) to a model's weights, or back");
  cmd->add_option("--model", o->model, "registered model name (see `atrous models`)")->required();
  cmd->add_option("--classes", o->classes, "number of classes of the model")->capture_default_str()->check(
      CLI::PositiveNumber);
  auto from = cmd->add_option("--from-pytorch", o->from_pytorch, "safetensors file in PyTorch's layout")
                  ->check(CLI::ExistingFile);
  auto to = cmd->add_option("--to-pytorch", o->to_pytorch,
                            "weights file of the model (ours, a checkpoint, or PyTorch's) to export for PyTorch")
                ->check(CLI::ExistingFile);
  from->excludes(to);
  cmd->add_option("--out", o->out, "safetensors file to write")->required();
  cmd->add_option("--backbone", o->backbone,
                  "the input is torchvision's classification net (resnet: resnet50/101 into backbone.*, fc skipped; "
                  "vgg16: features.* only, classifier skipped)")
      ->check(CLI::IsMember({"resnet", "vgg16"}))
      ->needs(from);
  cmd->add_option("--skip", o->skip, "drop source tensors starting with this prefix (repeatable)")->needs(from);
  cmd->add_option("--rename", o->renames, "FROM=TO: rename source prefixes before matching (repeatable)")
      ->needs(from);
  cmd->add_option("--only", o->only, "expect only model tensors under this prefix (repeatable)")->needs(from);
  cmd->add_flag("--non-strict", o->non_strict, "load what fits and list the rest instead of failing");
  cmd->callback([o, from, to] {
    ATROUS_CHECK(from->count() + to->count() == 1, "convert-weights: give --from-pytorch or --to-pytorch");
    run_convert(*o);
  });
}

}  // namespace atrous::cli
