#include "cli/setting_options.h"

#include <algorithm>
#include <memory>
#include <string>

namespace atrous::cli {

void add_setting_option(CLI::App* cmd, SettingOverrides& overrides, const TrainSetting& setting) {
  const std::string flags = "--" + setting.name + (setting.alias.empty() ? "" : ",--" + setting.alias);
  auto words = std::make_shared<std::vector<std::string>>();
  auto on = std::make_shared<bool>(false);
  CLI::Option* option = nullptr;
  switch (setting.form) {
    case TrainSetting::Form::flag:
      option = cmd->add_flag(flags + ",!--no-" + setting.name, *on, setting.help);
      break;
    case TrainSetting::Form::list:
      option = cmd->add_option(flags, *words, setting.help);
      break;
    case TrainSetting::Form::value:
      option = cmd->add_option(flags, *words, setting.help)->expected(1);
      break;
  }
  if (setting.form != TrainSetting::Form::flag) option->type_name(setting.type);
  option->default_str(setting.to_toml(TrainSettings{}));
  overrides.changes.push_back([option, words, on, &setting](TrainSettings& s) {
    if (option->count() == 0) return;
    setting.parse(s, setting.form == TrainSetting::Form::flag ? std::vector<std::string>{*on ? "true" : "false"}
                                                              : *words);
  });
}

bool is_dataset_setting(const TrainSetting& setting) {
  static const char* const names[] = {"dataset",        "data-root",         "voc-augmented",
                                      "synthetic-size", "synthetic-classes", "synthetic-count"};
  return std::find(std::begin(names), std::end(names), setting.name) != std::end(names);
}

void add_dataset_options(CLI::App* cmd, SettingOverrides& overrides) {
  for (const TrainSetting& setting : train_settings().entries()) {
    if (is_dataset_setting(setting)) add_setting_option(cmd, overrides, setting);
  }
}

}  // namespace atrous::cli
