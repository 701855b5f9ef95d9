// `atrous models`: every registered architecture with its parameter count (for 21 classes unless told otherwise),
// output stride and description.
#include <cstdio>

#include "cli/commands.h"
#include "models/registry.h"

namespace atrous::cli {

void register_models(CLI::App& app) {
  auto classes = std::make_shared<int>(21);
  auto show = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("models", "List the registered models with parameter counts and output strides");
  cmd->add_option("--classes", *classes, "number of classes the counts are given for")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--show", *show, "print one model's definition and its module tree with parameter shapes");
  cmd->callback([classes, show] {
    if (!show->empty()) {
      ModelOptions options;
      options.num_classes = *classes;
      auto model = create_model(*show, options);
      const ModelDefinition& d = model->definition();
      std::printf("%s: %s\n  output stride %d, align_corners %s, input %s\n%s", d.name.c_str(), d.description.c_str(),
                  d.output_stride, d.align_corners ? "true" : "false", d.preprocessing.str().c_str(),
                  model->summary().c_str());
      return;
    }
    std::printf("%-34s %12s  %3s  %s\n", "name", "parameters", "OS", "definition");
    for (const ModelEntry& entry : model_registry().entries()) {
      ModelOptions options;
      options.num_classes = *classes;
      auto model = entry.create(options);
      std::printf("%-34s %11.2fM  %3d  %s\n", entry.name.c_str(), model->parameter_count() / 1e6,
                  model->output_stride(), entry.summary.c_str());
    }
  });
}

}  // namespace atrous::cli
