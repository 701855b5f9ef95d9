#include "cli/device_option.h"

#include "core/device_name.h"

namespace atrous::cli {

std::string device_option_help(const std::string& what_runs_there) {
  return "where to run " + what_runs_there + ": cpu, cuda or cuda:N (`atrous info` counts the devices)";
}

CLI::Option* add_device_option(CLI::App* cmd, std::string& text, const std::string& what_runs_there) {
  return cmd->add_option("--device", text, device_option_help(what_runs_there))->capture_default_str();
}

Device device_option_value(const std::string& text) { return parse_device(text, "--device"); }

}  // namespace atrous::cli
