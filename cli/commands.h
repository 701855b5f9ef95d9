// Subcommands of the `atrous` executable; each file registers one with the CLI11 app.
#pragma once
#include <CLI/CLI.hpp>

namespace atrous::cli {

void register_quickstart(CLI::App& app);
void register_info(CLI::App& app);
void register_models(CLI::App& app);
void register_convert_weights(CLI::App& app);
void register_segment(CLI::App& app);
void register_train(CLI::App& app);
void register_evaluate(CLI::App& app);
void register_crf_refine(CLI::App& app);
void register_crf_search(CLI::App& app);

}  // namespace atrous::cli
