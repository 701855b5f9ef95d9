#include "cli/config_file.h"

#include "core/error.h"

namespace atrous::cli {

CLI::Option* add_config_option(CLI::App* cmd, std::string& path) {
  return cmd
      ->add_option("--config", path,
                   "TOML or INI file of settings (keys: the long option names, e.g. batch-size = 4); "
                   "options on the command line take precedence")
      ->check(CLI::ExistingFile);
}

void apply_config_file(CLI::App* cmd, const std::string& path) {
  if (path.empty()) return;
  const bool ini = path.size() >= 4 && path.compare(path.size() - 4, 4, ".ini") == 0;
  std::vector<CLI::ConfigItem> items;
  try {
    items = ini ? CLI::ConfigINI().from_file(path) : CLI::ConfigTOML().from_file(path);
  } catch (const CLI::Error& e) {
    ATROUS_FAIL("config file ", path, ": ", e.what());
  }
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // section markers
    ATROUS_CHECK(item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == cmd->get_name()),
                 "config file ", path, ": key '", item.fullname(), "' is in a section; write the keys of `atrous ",
                 cmd->get_name(), "` at the top level or under [", cmd->get_name(), "]");
    ATROUS_CHECK(item.name != "config", "config file ", path, ": a config file cannot name another one");
    CLI::Option* option = cmd->get_option_no_throw("--" + item.name);
    ATROUS_CHECK(option != nullptr, "config file ", path, ": unknown key '", item.name,
                 "' (keys are the long options of `atrous ", cmd->get_name(), " --help` without the dashes)");
    if (option->count() > 0) continue;  // given on the command line: that wins
    try {
      if (option->get_expected_min() == 0) {  // a flag: true/false, as CLI11 reads flags from config files
        option->add_result(option->get_flag_value(item.name, CLI::ConfigTOML().to_flag(item)));
      } else {
        option->add_result(item.inputs);
      }
      option->run_callback();
    } catch (const CLI::Error& e) {
      ATROUS_FAIL("config file ", path, ": key '", item.name, "': ", e.what());
    }
  }
}

}  // namespace atrous::cli
