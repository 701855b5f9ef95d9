// Training settings as one flat record (so the command line, config files and presets can set each field by name),
// the papers' recipes as named presets, and the translation of settings into what the Trainer, the loader and the
// model registry take.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/named_registry.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "models/registry.h"
#include "train/trainer.h"

namespace atrous {

struct TrainSettings {
  // model
  std::string model = "tiny-deeplab";
  int num_classes = 0;       // 0: the dataset's
  int output_stride = 0;     // 0: the architecture's default
  uint64_t init_seed = 1;    // initial weights
  std::string init_weights;  // optional weights (ours, PyTorch layout or a checkpoint) loaded before training
  // data
  std::string dataset = "synthetic";  // voc | camvid | cityscapes | synthetic
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
  std::string lr_policy = "poly";
  double lr_power = 0.9;
  int64_t lr_step_size = 2000;
  double lr_gamma = 0.1;
  int64_t warmup_iterations = 0;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool nesterov = false;
  std::string momentum_style = "pytorch";  // pytorch: v = m v + g, w -= lr v | caffe: v = m v + lr g, w -= v
  std::string bn_mode = "model";           // model (as the model built it) | train | frozen | decay | sync
  double bn_decay = 0.9997;                // bn_mode decay: running = decay * running + (1 - decay) * batch
  std::string loss_resolution = "output";  // output: labels subsampled to the logits; input: logits upsampled
  std::string class_weighting = "none";    // none | median-frequency
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

struct TrainPreset {
  std::string name;
  std::string summary;  // one line: where the recipe comes from
  TrainSettings settings;
};

// Every named preset, in the order `atrous train --list-presets` prints them.
const NamedRegistry<TrainPreset>& training_presets();
// The preset's settings; unknown names are an error listing the known ones.
const TrainPreset& training_preset(const std::string& name);

// Checks every setting (names of policies, modes and datasets, ranges); errors name the setting and its value.
void validate_settings(const TrainSettings& s);

// "key = value" lines (TOML, the same keys the config file takes), for printing and for the run's folder.
std::string settings_to_toml(const TrainSettings& s);

// Pieces for the library: the dataset specs, the loader's options (augmentation and the model's preprocessing),
// the model options and the trainer's options.
DatasetSpec train_dataset_spec(const TrainSettings& s);
DatasetSpec val_dataset_spec(const TrainSettings& s);
ModelOptions model_options(const TrainSettings& s, int dataset_classes);
LoaderOptions loader_options(const TrainSettings& s, const Preprocessing& preprocessing);
TrainerOptions trainer_options(const TrainSettings& s);

}  // namespace atrous
