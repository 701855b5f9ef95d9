// `--device cpu|cuda|cuda:N`: one option, spelled and checked the same way by every command that computes (train,
// evaluate, segment, quickstart, crf-refine, crf-search); commands with a config file take it as the key `device`.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "core/device.h"

namespace atrous::cli {

// The option's help, "where to run <what_runs_there>: ...", e.g. "the model" or "the mean field".
std::string device_option_help(const std::string& what_runs_there);

// Adds --device (default cpu) to `cmd`.
CLI::Option* add_device_option(CLI::App* cmd, std::string& text, const std::string& what_runs_there);

// The device the option names. An atrous::Error names the text and the accepted forms, or says why the device
// cannot be used here (a CPU-only build, no GPU visible, an index past the visible GPUs).
Device device_option_value(const std::string& text);

}  // namespace atrous::cli
