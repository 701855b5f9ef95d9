// The papers' recipes as named training presets (train/train_settings.h has the settings themselves).
#pragma once
#include <string>

#include "core/named_registry.h"
#include "train/train_settings.h"

namespace atrous {

struct TrainPreset {
  std::string name;
  std::string summary;  // one line: where the recipe comes from
  TrainSettings settings;
};

// Every named preset, in the order `atrous train --list-presets` prints them.
const NamedRegistry<TrainPreset>& training_presets();
// The preset's settings; unknown names are an error listing the known ones.
const TrainPreset& training_preset(const std::string& name);

}  // namespace atrous
