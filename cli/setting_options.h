// Command-line options made from the training settings table (train/train_settings.h): one option per row, parsed
// by the row when given. `atrous train` takes every row; every command that opens a dataset takes the dataset rows
// through add_dataset_options, so they are declared once.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

#include "train/train_settings.h"

namespace atrous::cli {

// What the options given (command line or config file) change, applied in the order the options were added.
struct SettingOverrides {
  std::vector<std::function<void(TrainSettings&)>> changes;
  void apply(TrainSettings& s) const {
    for (const auto& change : changes) change(s);
  }
};

// --NAME VALUE, --NAME / --no-NAME for flags, --NAME V1 V2 ... for lists; the row's default shown in --help.
void add_setting_option(CLI::App* cmd, SettingOverrides& overrides, const TrainSetting& setting);

// The rows that say which dataset to open: --dataset, --data-root, --voc-augmented, --synthetic-size/-classes/-count.
void add_dataset_options(CLI::App* cmd, SettingOverrides& overrides);
bool is_dataset_setting(const TrainSetting& setting);

}  // namespace atrous::cli
