// Training settings as one flat record, and the table of them: once per setting, its name (the command line's
// --name, the key in config files and in a run's settings.toml), its help, how its value is read and written, and
// which values it takes. `atrous train` builds its options from the table, settings_to_toml writes it and
// validate_settings checks it, so a new setting is one member here and one row in train_settings.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/named_registry.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "models/registry.h"
#include "solvers/lr_policy.h"
#include "solvers/sgd.h"
#include "train/trainer.h"

namespace atrous {

// How the model's batch norm trains: as the model built it (no policy applied), or a BnPolicyMode.
enum class TrainBnMode { model, train, frozen, decay, sync };
const NamedValues<TrainBnMode>& train_bn_modes();  // "model", "train", "frozen", "decay", "sync"

enum class ClassWeighting { none, median_frequency };
const NamedValues<ClassWeighting>& class_weightings();  // "none", "median-frequency"

struct TrainSettings {
  // model
  std::string model = "tiny-deeplab";
  int num_classes = 0;       // 0: the dataset's
  int output_stride = 0;     // 0: the architecture's default
  uint64_t init_seed = 1;    // initial weights
  std::string init_weights;  // optional weights (ours, PyTorch layout or a checkpoint) loaded before training
  // data
  std::string dataset = "synthetic";  // a dataset_kinds() name
  std::string data_root;
  std::string train_split = "train";
  std::string val_split = "val";  // "" : no validation
  bool voc_augmented = false;     // SegmentationClassAug
  int64_t train_limit = 0;        // > 0: first N images only
  int64_t val_limit = 0;
  int synthetic_size = 64;
  int synthetic_classes = 4;
  int64_t synthetic_count = 256;
  // batches and augmentation
  int batch_size = 8;
  int iter_size = 1;
  int crop_height = 64;
  int crop_width = 64;
  double scale_min = 1.0;
  double scale_max = 1.0;
  bool flip = true;
  int workers = 2;
  int prefetch_batches = 4;
  uint64_t seed = 1;  // shuffling, augmentation and dropout
  // optimisation
  int64_t max_iterations = 1000;
  double lr = 0.01;
  LrSchedule lr_policy = LrSchedule::poly;
  double lr_power = 0.9;
  int64_t lr_step_size = 2000;
  double lr_gamma = 0.1;
  int64_t warmup_iterations = 0;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool nesterov = false;
  MomentumStyle momentum_style = MomentumStyle::pytorch;
  TrainBnMode bn_mode = TrainBnMode::model;
  double bn_decay = 0.9997;  // bn_mode decay: running = decay * running + (1 - decay) * batch
  LossResolution loss_resolution = LossResolution::Output;
  ClassWeighting class_weighting = ClassWeighting::none;
  // schedule of side jobs
  int64_t validate_every = 0;  // 0: only at the end
  std::vector<double> val_scales{1.0};
  bool val_flip = false;
  int val_crop_size = 0;
  int64_t checkpoint_every = 0;  // 0: only at the end and on Ctrl-C
  int64_t log_every = 20;        // plain progress line / log row period
  std::string out_dir = "atrous-train";
  // where the model trains and validates: cpu, cuda or cuda:N (presets leave it on the CPU; the machine decides)
  std::string device = "cpu";
};

// One row of the table.
struct TrainSetting {
  enum class Form { value, flag, list };  // --name VALUE, --name / --no-name, --name V1 V2 ...

  std::string name;   // "batch-size"
  std::string alias;  // another long option for it ("classes"), or ""
  std::string help;   // for --help; settings with named values list them
  std::string type;   // for --help: INT, FLOAT, TEXT, NAME
  Form form = Form::value;
  // The value as TOML writes it: 4, 0.01, true, "poly", [1, 0.75].
  std::function<std::string(const TrainSettings&)> to_toml;
  // Reads the value from its text (one word; "true"/"false" for flags; words for lists). Errors name the setting.
  std::function<void(TrainSettings&, const std::vector<std::string>&)> parse;
  // Checks the value on its own (ranges); settings that constrain each other are checked by validate_settings.
  std::function<void(const TrainSettings&)> check;
};

// Every setting, in the order --help and settings.toml list them.
const NamedRegistry<TrainSetting>& train_settings();

// Checks every setting (each one's range, then those that depend on each other); errors name the setting and its
// value.
void validate_settings(const TrainSettings& s);

// "key = value" lines (TOML, the same keys the config file takes), for printing and for the run's folder.
std::string settings_to_toml(const TrainSettings& s);

// The settings translated for the library: the dataset specs, the model options, the loader's options
// (augmentation and the model's preprocessing) and the trainer's options.
DatasetSpec dataset_spec(const TrainSettings& s, const std::string& split, int64_t limit);
DatasetSpec train_dataset_spec(const TrainSettings& s);
DatasetSpec val_dataset_spec(const TrainSettings& s);
ModelOptions model_options(const TrainSettings& s, int dataset_classes);
LoaderOptions loader_options(const TrainSettings& s, const Preprocessing& preprocessing);
TrainerOptions trainer_options(const TrainSettings& s);

}  // namespace atrous
