#include "train/train_settings.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>

#include "core/device_name.h"
#include "core/error.h"

namespace atrous {
namespace {

using Check = std::function<void(const TrainSettings&)>;

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string number_text(double v) {
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

// TOML text of a value.
std::string toml(const std::string& v) { return quoted(v); }
std::string toml(bool v) { return v ? "true" : "false"; }
template <typename T>
std::string toml(T v) {
  return std::is_floating_point_v<T> ? number_text(static_cast<double>(v)) : std::to_string(v);
}

// The whole word must be the value: "4x" or "" is not 4.
template <typename T>
T parse_word(const std::string& setting, const std::string& word) {
  if constexpr (std::is_same_v<T, std::string>) {
    return word;
  } else {
    size_t used = 0;
    bool ok = !word.empty();
    T value{};
    try {
      if constexpr (std::is_floating_point_v<T>) {
        value = static_cast<T>(std::stod(word, &used));
        ok = ok && std::isfinite(static_cast<double>(value));
      } else if constexpr (std::is_unsigned_v<T>) {
        ok = ok && word[0] != '-';  // stoull would wrap "-1" around
        value = static_cast<T>(std::stoull(word, &used));
      } else {
        const long long wide = std::stoll(word, &used);
        ok = ok && wide >= std::numeric_limits<T>::min() && wide <= std::numeric_limits<T>::max();
        value = static_cast<T>(wide);
      }
    } catch (const std::exception&) {
      ok = false;
    }
    ATROUS_CHECK(ok && used == word.size(), "setting ", setting, ": '", word, "' is not ",
                 std::is_floating_point_v<T> ? "a number" : "a whole number", " in range");
    return value;
  }
}

const std::string& one_word(const std::string& setting, const std::vector<std::string>& words) {
  ATROUS_CHECK(words.size() == 1, "setting ", setting, " takes one value, got ", words.size());
  return words[0];
}

// A setting holding a number or a text.
template <typename T>
TrainSetting value(const std::string& name, T TrainSettings::*field, const std::string& help, Check check = {}) {
  TrainSetting s;
  s.name = name;
  s.help = help;
  s.type = std::is_same_v<T, std::string> ? "TEXT" : std::is_floating_point_v<T> ? "FLOAT" : "INT";
  s.to_toml = [field](const TrainSettings& t) { return toml(t.*field); };
  s.parse = [name, field](TrainSettings& t, const std::vector<std::string>& words) {
    t.*field = parse_word<T>(name, one_word(name, words));
  };
  s.check = std::move(check);
  return s;
}

TrainSetting flag(const std::string& name, bool TrainSettings::*field, const std::string& help) {
  TrainSetting s;
  s.name = name;
  s.help = help;
  s.form = TrainSetting::Form::flag;
  s.to_toml = [field](const TrainSettings& t) { return toml(t.*field); };
  s.parse = [name, field](TrainSettings& t, const std::vector<std::string>& words) {
    const std::string& word = one_word(name, words);
    ATROUS_CHECK(word == "true" || word == "false", "setting ", name, ": '", word, "' is not true or false");
    t.*field = word == "true";
  };
  return s;
}

// A setting holding one of an enum's named values; --help lists them.
template <typename E>
TrainSetting named(const std::string& name, E TrainSettings::*field, const NamedValues<E>& names,
                   const std::string& help) {
  TrainSetting s;
  s.name = name;
  s.help = help + ": " + names.joined_names(" | ");
  s.type = "NAME";
  s.to_toml = [field, &names](const TrainSettings& t) { return quoted(names.name_of(t.*field)); };
  s.parse = [name, field, &names](TrainSettings& t, const std::vector<std::string>& words) {
    const std::string& word = one_word(name, words);
    ATROUS_CHECK(names.contains(word), "setting ", name, " = '", word, "' is not one of: ", names.joined_names(", "));
    t.*field = names.parse(word);
  };
  return s;
}

TrainSetting list(const std::string& name, std::vector<double> TrainSettings::*field, const std::string& help,
                  Check check) {
  TrainSetting s;
  s.name = name;
  s.help = help;
  s.type = "FLOAT";
  s.form = TrainSetting::Form::list;
  s.to_toml = [field](const TrainSettings& t) {
    std::string out = "[";
    for (double v : t.*field) out += (out.size() > 1 ? ", " : "") + number_text(v);
    return out + "]";
  };
  s.parse = [name, field](TrainSettings& t, const std::vector<std::string>& words) {
    (t.*field).clear();
    for (const std::string& word : words) (t.*field).push_back(parse_word<double>(name, word));
  };
  s.check = std::move(check);
  return s;
}

TrainSetting with_alias(TrainSetting s, const std::string& alias) {
  s.alias = alias;
  return s;
}

// Range checks, each naming its setting.
template <typename T>
Check at_least(const std::string& name, T TrainSettings::*field, T minimum) {
  return [=](const TrainSettings& t) {
    ATROUS_CHECK(t.*field >= minimum, "setting ", name, " must be >= ", minimum, ", got ", t.*field);
  };
}

Check positive(const std::string& name, double TrainSettings::*field) {
  return [=](const TrainSettings& t) {
    ATROUS_CHECK(t.*field > 0, "setting ", name, " must be positive, got ", t.*field);
  };
}

// lo <= v < hi, or lo < v < hi when `open_below`.
Check within(const std::string& name, double TrainSettings::*field, double lo, double hi, bool open_below) {
  return [=](const TrainSettings& t) {
    const double v = t.*field;
    ATROUS_CHECK((open_below ? v > lo : v >= lo) && v < hi, "setting ", name, " must be in ", open_below ? "(" : "[",
                 lo, ", ", hi, "), got ", v);
  };
}

}  // namespace

const NamedValues<TrainBnMode>& train_bn_modes() {
  static const NamedValues<TrainBnMode> names("bn mode", {{"model", TrainBnMode::model},
                                                          {"train", TrainBnMode::train},
                                                          {"frozen", TrainBnMode::frozen},
                                                          {"decay", TrainBnMode::decay},
                                                          {"sync", TrainBnMode::sync}});
  return names;
}

const NamedValues<ClassWeighting>& class_weightings() {
  static const NamedValues<ClassWeighting> names(
      "class weighting", {{"none", ClassWeighting::none}, {"median-frequency", ClassWeighting::median_frequency}});
  return names;
}

const NamedRegistry<TrainSetting>& train_settings() {
  using S = TrainSettings;
  static const NamedRegistry<TrainSetting> table("setting", {
      value("model", &S::model,
            "registered model name (see `atrous models`); without it (and without a preset), the model "
            "--init-weights records"),
      with_alias(value("num-classes", &S::num_classes, "classes the model predicts (0: the dataset's)",
                       at_least("num-classes", &S::num_classes, 0)),
                 "classes"),
      value("output-stride", &S::output_stride, "output stride where the model allows it (0: default)",
            at_least("output-stride", &S::output_stride, 0)),
      value("init-seed", &S::init_seed, "seed of the initial weights"),
      value("init-weights", &S::init_weights,
            "start from these weights (ours, PyTorch or a checkpoint; what does not fit is reported)"),
      value("dataset", &S::dataset, "dataset kind: " + dataset_kinds().joined_names(" | "),
            [](const S& t) {
              ATROUS_CHECK(dataset_kinds().contains(t.dataset), "setting dataset = '", t.dataset,
                           "' is not one of: ", dataset_kinds().joined_names(", "));
            }),
      value("data-root", &S::data_root, "the dataset's folder"),
      value("train-split", &S::train_split, "split (list name) to train on"),
      value("val-split", &S::val_split, "split to validate on ('' for none)"),
      flag("voc-augmented", &S::voc_augmented, "VOC labels from SegmentationClassAug"),
      value("train-limit", &S::train_limit, "use only the first N training images (0: all)",
            at_least("train-limit", &S::train_limit, int64_t(0))),
      value("val-limit", &S::val_limit, "validate on the first N images only (0: all)",
            at_least("val-limit", &S::val_limit, int64_t(0))),
      value("synthetic-size", &S::synthetic_size, "synthetic dataset: image side",
            at_least("synthetic-size", &S::synthetic_size, 8)),
      value("synthetic-classes", &S::synthetic_classes, "synthetic dataset: classes (with background)",
            at_least("synthetic-classes", &S::synthetic_classes, 2)),
      value("synthetic-count", &S::synthetic_count, "synthetic dataset: how many images",
            at_least("synthetic-count", &S::synthetic_count, int64_t(1))),
      value("batch-size", &S::batch_size,
            "images per batch (per rank under mpirun: the global batch is ranks x batch-size)",
            at_least("batch-size", &S::batch_size, 1)),
      value("iter-size", &S::iter_size, "batches accumulated into one step (effective batch = batch-size x iter-size)",
            at_least("iter-size", &S::iter_size, 1)),
      value("crop-height", &S::crop_height, "training crop height", at_least("crop-height", &S::crop_height, 1)),
      value("crop-width", &S::crop_width, "training crop width", at_least("crop-width", &S::crop_width, 1)),
      value("scale-min", &S::scale_min, "random scale range, low end (1 and 1: no scaling)",
            positive("scale-min", &S::scale_min)),
      value("scale-max", &S::scale_max, "random scale range, high end", positive("scale-max", &S::scale_max)),
      flag("flip", &S::flip, "random left-right flips"),
      value("workers", &S::workers, "loader threads", at_least("workers", &S::workers, 1)),
      value("prefetch-batches", &S::prefetch_batches, "ready batches the loader keeps",
            at_least("prefetch-batches", &S::prefetch_batches, 1)),
      value("seed", &S::seed, "seed of shuffling, augmentation and dropout"),
      value("max-iterations", &S::max_iterations, "optimizer steps",
            at_least("max-iterations", &S::max_iterations, int64_t(1))),
      value("lr", &S::lr, "base learning rate (classifiers train at x10 through the model's parameter groups)",
            positive("lr", &S::lr)),
      named("lr-policy", &S::lr_policy, lr_schedules(), "learning-rate schedule"),
      value("lr-power", &S::lr_power, "poly power"),
      value("lr-step-size", &S::lr_step_size, "step policy: iterations between drops"),
      value("lr-gamma", &S::lr_gamma, "step policy: factor per drop"),
      value("warmup-iterations", &S::warmup_iterations, "linear warmup iterations"),
      value("momentum", &S::momentum, "SGD momentum", within("momentum", &S::momentum, 0.0, 1.0, false)),
      value("weight-decay", &S::weight_decay, "L2 weight decay", [](const S& t) {
        ATROUS_CHECK(t.weight_decay >= 0, "setting weight-decay must be >= 0, got ", t.weight_decay);
      }),
      flag("nesterov", &S::nesterov, "Nesterov momentum"),
      named("momentum-style", &S::momentum_style, momentum_styles(),
            "pytorch (v = m v + g; w -= lr v) or caffe (v = m v + lr g; w -= v: DeepLab v1/v2's Caffe)"),
      named("bn-mode", &S::bn_mode, train_bn_modes(),
            "how batch norm trains (model: as the model built it; decay: TF's running average; sync: statistics "
            "over every rank of an mpirun job)"),
      value("bn-decay", &S::bn_decay, "bn-mode decay: running-average decay (DeepLabv3: 0.9997)",
            within("bn-decay", &S::bn_decay, 0.0, 1.0, true)),
      named("loss-resolution", &S::loss_resolution, loss_resolutions(),
            "where the loss is computed: output (labels subsampled to the logits, v1/v2) or input (logits "
            "upsampled, v3)"),
      named("class-weighting", &S::class_weighting, class_weightings(), "loss weights per class"),
      value("validate-every", &S::validate_every, "validate every N iterations (0: at the end only)",
            at_least("validate-every", &S::validate_every, int64_t(0))),
      list("val-scales", &S::val_scales, "validation input scales (logits averaged)",
           [](const S& t) {
             ATROUS_CHECK(!t.val_scales.empty(), "setting val-scales needs at least one scale");
             for (double v : t.val_scales) ATROUS_CHECK(v > 0, "setting val-scales: scales must be positive, got ", v);
           }),
      flag("val-flip", &S::val_flip, "validation also averages flipped images"),
      value("val-crop-size", &S::val_crop_size, "validation sliding-window size (0: whole images)",
            at_least("val-crop-size", &S::val_crop_size, 0)),
      value("checkpoint-every", &S::checkpoint_every, "checkpoint every N iterations (0: at the end and on Ctrl-C)",
            at_least("checkpoint-every", &S::checkpoint_every, int64_t(0))),
      value("log-every", &S::log_every, "log row / plain progress line every N iterations",
            at_least("log-every", &S::log_every, int64_t(1))),
      value("out-dir", &S::out_dir, "checkpoints, logs, weights and the curve plot go here"),
      value("device", &S::device, "cpu, cuda or cuda:N: where training and validation run (default cpu)",
            // The spelling only; whether the device exists is the Trainer's check.
            [](const S& t) { device_from_name(t.device, "setting device ="); }),
  });
  return table;
}

void validate_settings(const TrainSettings& s) {
  for (const TrainSetting& setting : train_settings().entries()) {
    if (setting.check) setting.check(s);
  }
  ATROUS_CHECK(s.dataset == "synthetic" || !s.data_root.empty(), "setting data-root is empty; dataset ", s.dataset,
               " needs the folder that holds it (--data-root)");
  ATROUS_CHECK(s.scale_max >= s.scale_min, "settings scale-min/scale-max must satisfy min <= max, got ", s.scale_min,
               "..", s.scale_max);
  ATROUS_CHECK(!s.nesterov || s.momentum_style == MomentumStyle::pytorch,
               "setting nesterov = true needs momentum-style = 'pytorch' (Nesterov momentum is implemented in "
               "PyTorch's form only), got momentum-style = '",
               momentum_styles().name_of(s.momentum_style), "'");
  trainer_options(s).lr_policy.validate();  // the schedule's own settings (power, step, warmup < iterations)
}

std::string settings_to_toml(const TrainSettings& s) {
  std::string out;
  for (const TrainSetting& setting : train_settings().entries()) {
    out += setting.name + " = " + setting.to_toml(s) + "\n";
  }
  return out;
}

DatasetSpec dataset_spec(const TrainSettings& s, const std::string& split, int64_t limit) {
  DatasetSpec d;
  d.kind = s.dataset;
  d.root = s.data_root;
  d.split = split;
  d.augmented = s.voc_augmented;
  d.limit = limit;
  d.synthetic_size = s.synthetic_size;
  d.synthetic_classes = s.synthetic_classes;
  d.synthetic_count = s.synthetic_count;
  d.synthetic_seed = s.seed;
  return d;
}

DatasetSpec train_dataset_spec(const TrainSettings& s) { return dataset_spec(s, s.train_split, s.train_limit); }
DatasetSpec val_dataset_spec(const TrainSettings& s) { return dataset_spec(s, s.val_split, s.val_limit); }

ModelOptions model_options(const TrainSettings& s, int dataset_classes) {
  ModelOptions m;
  m.num_classes = s.num_classes > 0 ? s.num_classes : dataset_classes;
  m.output_stride = s.output_stride;
  m.seed = s.init_seed;
  return m;
}

LoaderOptions loader_options(const TrainSettings& s, const Preprocessing& preprocessing) {
  LoaderOptions l;
  l.batch_size = s.batch_size;
  l.shuffle = true;
  l.drop_last = true;
  l.augment = true;
  l.augmentation.crop_height = s.crop_height;
  l.augmentation.crop_width = s.crop_width;
  l.augmentation.scale_min = s.scale_min;
  l.augmentation.scale_max = s.scale_max;
  l.augmentation.flip = s.flip;
  l.augmentation.random_crop = true;
  l.preprocessing = preprocessing;
  l.workers = s.workers;
  l.prefetch_batches = s.prefetch_batches;
  l.seed = s.seed;
  return l;
}

TrainerOptions trainer_options(const TrainSettings& s) {
  TrainerOptions t;
  t.max_iterations = s.max_iterations;
  t.iter_size = s.iter_size;
  t.sgd.lr = s.lr;
  t.sgd.momentum = s.momentum;
  t.sgd.weight_decay = s.weight_decay;
  t.sgd.nesterov = s.nesterov;
  t.sgd.momentum_style = s.momentum_style;
  t.lr_policy.kind = s.lr_policy;
  t.lr_policy.base_lr = s.lr;
  t.lr_policy.max_iterations = s.max_iterations;
  t.lr_policy.power = s.lr_power;
  t.lr_policy.step_size = s.lr_step_size;
  t.lr_policy.gamma = s.lr_gamma;
  t.lr_policy.warmup_iterations = s.warmup_iterations;
  if (s.bn_mode != TrainBnMode::model) {
    BnPolicy bn;
    bn.mode = bn_policy_modes().parse(train_bn_modes().name_of(s.bn_mode));  // the same names, less "model"
    bn.decay = s.bn_decay;
    t.bn = bn;
  }
  t.loss_resolution = s.loss_resolution;
  t.dropout_seed = s.seed;
  t.validate_every = s.validate_every;
  t.validation.scales = s.val_scales;
  t.validation.flip = s.val_flip;
  t.validation.crop_size = s.val_crop_size;
  t.validation.limit = 0;  // the validation dataset is already limited by val_limit
  t.checkpoint_every = s.checkpoint_every;
  t.log_every = s.log_every;
  t.out_dir = s.out_dir;
  t.device = device_from_name(s.device, "setting device =");
  t.validation.device = t.device;
  return t;
}

}  // namespace atrous
