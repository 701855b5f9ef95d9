// Settings from a config file for a subcommand (`atrous train --config run.toml`). CLI11 reads config files only for
// the top-level app, so subcommands apply theirs here: every key is an option's long name ("batch-size = 4"); an
// option given on the command line keeps its value (command line > config file > the command's defaults/presets).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace atrous::cli {

// Adds `--config FILE` to `cmd`; returns the option whose value apply_config_file takes.
CLI::Option* add_config_option(CLI::App* cmd, std::string& path);

// TOML (or INI, by the .ini extension) keys at the top level or in a section named after the command. An unknown
// key, or a value an option rejects, is an error naming the key and the file.
void apply_config_file(CLI::App* cmd, const std::string& path);

}  // namespace atrous::cli
