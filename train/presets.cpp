#include "train/presets.h"

#include <cstdio>
#include <sstream>

#include "core/device_name.h"
#include "core/error.h"

namespace atrous {
namespace {

// DeepLab v1/v2 LargeFOV on VOC 2012 (v2 paper, "poly" row of the LargeFOV ablation: batch 10, 20K iterations,
// 65.88 val): VGG-16 LargeFOV, lr 1e-3 (the classifier's x10 is in the model's parameter groups), poly 0.9,
// momentum 0.9, weight decay 5e-4, random 321 crops padded with the mean, no random scaling (v1 had none), labels
// subsampled to the stride-8 logits for the loss. Left-right flips as the released Caffe prototxts (mirror: true).
// Caffe's momentum (the lr inside the velocity), as DeepLab v1/v2 were trained in Caffe.
TrainSettings largefov_voc() {
  TrainSettings s;
  s.model = "deeplab-v1-largefov";
  s.dataset = "voc";
  s.train_split = "trainaug";
  s.voc_augmented = true;
  s.val_split = "val";
  s.batch_size = 10;
  s.crop_height = s.crop_width = 321;
  s.scale_min = s.scale_max = 1.0;
  s.flip = true;
  s.max_iterations = 20000;
  s.lr = 1e-3;
  s.lr_policy = "poly";
  s.lr_power = 0.9;
  s.momentum = 0.9;
  s.momentum_style = "caffe";
  s.weight_decay = 5e-4;
  s.bn_mode = "model";  // VGG has no BN
  s.loss_resolution = "output";
  s.validate_every = 2000;
  s.checkpoint_every = 1000;
  s.out_dir = "runs/largefov-voc";
  return s;
}

// DeepLab v2's headline model on VOC 2012 (v2 paper Sec. 4.1 and Table 4): ResNet-101 ASPP-L with multi-scale inputs
// (MSC: scales 1, 0.75, 0.5, max fusion, a loss on every scale and on the fused map), frozen BN, base lr 2.5e-4
// (classifier x10) poly 0.9, momentum 0.9 in Caffe's form, weight decay 5e-4, batch 10, 20K iterations, 321 crops,
// random scaling 0.5-1.5 and flips, labels subsampled to the stride-8 logits of each scale.
TrainSettings deeplabv2_resnet_voc() {
  TrainSettings s = largefov_voc();
  s.model = "deeplabv2-resnet101-msc";
  s.scale_min = 0.5;
  s.scale_max = 1.5;
  s.lr = 2.5e-4;
  s.out_dir = "runs/deeplabv2-resnet-voc";
  return s;
}

// DeepLabv3 on VOC 2012 (v3 paper, section 4.1): ResNet-101 at output stride 16, crop 513, batch 16, lr 0.007 poly
// 0.9, 30K iterations, BN trained with decay 0.9997, random scale 0.5-2.0 and left-right flip, logits upsampled to
// the labels for the loss. The paper gives no weight decay; 1e-4 is what its released TF code uses for ResNet.
TrainSettings deeplabv3_voc() {
  TrainSettings s;
  s.model = "resnet101-deeplabv3";
  s.output_stride = 16;
  s.dataset = "voc";
  s.train_split = "trainaug";
  s.voc_augmented = true;
  s.val_split = "val";
  s.batch_size = 16;
  s.crop_height = s.crop_width = 513;
  s.scale_min = 0.5;
  s.scale_max = 2.0;
  s.flip = true;
  s.max_iterations = 30000;
  s.lr = 0.007;
  s.lr_policy = "poly";
  s.lr_power = 0.9;
  s.momentum = 0.9;
  s.weight_decay = 1e-4;
  s.bn_mode = "decay";
  s.bn_decay = 0.9997;
  s.loss_resolution = "input";
  s.validate_every = 2000;
  s.checkpoint_every = 1000;
  s.out_dir = "runs/deeplabv3-voc";
  return s;
}

// CamVid from scratch on a 2-core CPU in well under an hour (36 min on a loaded machine, 43.5 val mIoU; see
// docs/results.md): the quickstart's TinyDeepLab (OS4, ASPP-v2 head) at about half resolution (random scale 0.4-0.6
// of 480x360, 176x176 crops, flips), batch 8, lr 0.05 poly with a short warmup, BN trained. Validation at scale 0.5
// (the training resolution). Median-frequency class weights (as SegNet) so the rare classes (pole, sign,
// pedestrian, bicyclist) are learned at all in so few iterations.
TrainSettings camvid() {
  TrainSettings s;
  s.model = "tiny-deeplab";
  s.dataset = "camvid";
  s.data_root = "../shared/data/camvid";
  s.train_split = "train";
  s.val_split = "val";
  s.batch_size = 8;
  s.crop_height = s.crop_width = 176;
  s.scale_min = 0.4;
  s.scale_max = 0.6;
  s.flip = true;
  s.max_iterations = 1000;
  s.lr = 0.05;
  s.lr_policy = "poly";
  s.lr_power = 0.9;
  s.warmup_iterations = 50;
  s.momentum = 0.9;
  s.weight_decay = 5e-4;
  s.bn_mode = "train";
  s.loss_resolution = "output";
  s.class_weighting = "median-frequency";
  s.validate_every = 200;
  s.val_scales = {0.5};
  s.checkpoint_every = 200;
  s.log_every = 10;
  s.out_dir = "runs/camvid";
  return s;
}

// The CPU recipe for CamVid from scratch (issue 14): DeepLabv3+ on MobileNetV2 with separable ASPP and decoder,
// trained on random 224x224 crops of images scaled 0.5-1.0 (the dataset's 480x360), validated with the input at
// 0.75, the middle of the training scales (objects at the sizes the model learnt; the logits are upsampled and
// scored against the full-resolution labels: 62.6 mIoU vs 58.1 at input scale 1 on the run in docs/results.md).
// The weights record that scale, so `evaluate` and `segment` use it unless told otherwise. About 1.6 h on 2 cores.
TrainSettings camvid_deeplabv3plus() {
  TrainSettings s = camvid();
  s.model = "deeplabv3plus-mobilenetv2-lite";
  s.crop_height = s.crop_width = 224;
  s.scale_min = 0.5;
  s.scale_max = 1.0;
  s.max_iterations = 8500;
  s.lr = 0.05;
  s.warmup_iterations = 200;
  s.validate_every = 1000;
  s.val_scales = {0.75};
  s.checkpoint_every = 250;
  s.log_every = 50;
  s.out_dir = "runs/camvid-deeplabv3plus";
  return s;
}

std::string join(const std::vector<double>& v) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << v[i];
  out << "]";
  return out.str();
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

const NamedRegistry<TrainPreset>& training_presets() {
  static const NamedRegistry<TrainPreset> presets("training preset", {
      {"largefov-voc",
       "DeepLab-LargeFOV (VGG-16) on VOC 2012 trainaug, v2 paper's poly recipe: batch 10, lr 1e-3, 20K it",
       largefov_voc()},
      {"deeplabv2-resnet-voc",
       "DeepLab-v2 ResNet-101 ASPP-L + MSC on VOC 2012 trainaug, v2 paper: batch 10, lr 2.5e-4 poly, scale 0.5-1.5, 20K it",
       deeplabv2_resnet_voc()},
      {"deeplabv3-voc",
       "DeepLabv3 ResNet-101 OS16 on VOC 2012 trainaug: crop 513, batch 16, lr 0.007 poly, BN decay 0.9997, 30K it",
       deeplabv3_voc()},
      {"camvid",
       "TinyDeepLab on CamVid from scratch at half resolution, 1000 it (43.5 val mIoU, 36 min on 2 loaded cores)",
       camvid()},
      {"camvid-deeplabv3plus",
       "DeepLabv3+ MobileNetV2 (separable) on CamVid from scratch: crops 224 at scale 0.5-1, 8500 it, < 2 h on 2 cores",
       camvid_deeplabv3plus()},
  });
  return presets;
}

const TrainPreset& training_preset(const std::string& name) { return training_presets().get(name); }

void validate_settings(const TrainSettings& s) {
  auto one_of = [](const std::string& setting, const std::string& value, const std::vector<std::string>& allowed) {
    for (const std::string& a : allowed)
      if (a == value) return;
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    ATROUS_FAIL("setting ", setting, " = '", value, "' is not one of: ", list);
  };
  one_of("dataset", s.dataset, dataset_kinds().names());
  one_of("lr_policy", s.lr_policy, {"poly", "step", "constant"});
  one_of("bn_mode", s.bn_mode, {"model", "train", "frozen", "decay", "sync"});
  one_of("loss_resolution", s.loss_resolution, {"output", "input"});
  one_of("class_weighting", s.class_weighting, {"none", "median-frequency"});
  one_of("momentum_style", s.momentum_style, {"pytorch", "caffe"});
  device_from_name(s.device, "setting device =");  // the spelling; whether the device exists is the Trainer's check
  ATROUS_CHECK(s.dataset == "synthetic" || !s.data_root.empty(), "setting data_root is empty; dataset ", s.dataset,
               " needs the folder that holds it (--data-root)");
  ATROUS_CHECK(s.batch_size >= 1, "setting batch_size must be >= 1, got ", s.batch_size);
  ATROUS_CHECK(s.iter_size >= 1, "setting iter_size must be >= 1, got ", s.iter_size);
  ATROUS_CHECK(s.crop_height >= 1 && s.crop_width >= 1, "settings crop_height/crop_width must be >= 1, got ",
               s.crop_height, "x", s.crop_width);
  ATROUS_CHECK(s.scale_min > 0 && s.scale_max >= s.scale_min,
               "settings scale_min/scale_max must satisfy 0 < min <= max, got ", s.scale_min, "..", s.scale_max);
  ATROUS_CHECK(s.max_iterations >= 1, "setting max_iterations must be >= 1, got ", s.max_iterations);
  ATROUS_CHECK(s.lr > 0, "setting lr must be positive, got ", s.lr);
  ATROUS_CHECK(s.momentum >= 0 && s.momentum < 1, "setting momentum must be in [0, 1), got ", s.momentum);
  ATROUS_CHECK(s.weight_decay >= 0, "setting weight_decay must be >= 0, got ", s.weight_decay);
  ATROUS_CHECK(!s.nesterov || s.momentum_style == "pytorch",
               "setting nesterov = true needs momentum_style = 'pytorch' (Nesterov momentum is implemented in "
               "PyTorch's form only), got momentum_style = '",
               s.momentum_style, "'");
  ATROUS_CHECK(s.bn_decay > 0 && s.bn_decay < 1, "setting bn_decay must be in (0, 1), got ", s.bn_decay);
  ATROUS_CHECK(s.workers >= 1 && s.prefetch_batches >= 1, "settings workers and prefetch_batches must be >= 1");
  ATROUS_CHECK(s.validate_every >= 0 && s.checkpoint_every >= 0 && s.log_every >= 1,
               "settings validate_every/checkpoint_every must be >= 0 and log_every >= 1");
  ATROUS_CHECK(!s.val_scales.empty(), "setting val_scales needs at least one scale");
  for (double v : s.val_scales) ATROUS_CHECK(v > 0, "setting val_scales: scales must be positive, got ", v);
  ATROUS_CHECK(s.synthetic_size >= 8 && s.synthetic_classes >= 2 && s.synthetic_count >= 1,
               "synthetic settings: size >= 8, classes >= 2, count >= 1");
  trainer_options(s).lr_policy.validate();
}

std::string settings_to_toml(const TrainSettings& s) {
  std::ostringstream o;
  o.precision(10);
  o << "model = " << quoted(s.model) << "\n"
    << "num-classes = " << s.num_classes << "\n"
    << "output-stride = " << s.output_stride << "\n"
    << "init-seed = " << s.init_seed << "\n"
    << "init-weights = " << quoted(s.init_weights) << "\n"
    << "dataset = " << quoted(s.dataset) << "\n"
    << "data-root = " << quoted(s.data_root) << "\n"
    << "train-split = " << quoted(s.train_split) << "\n"
    << "val-split = " << quoted(s.val_split) << "\n"
    << "voc-augmented = " << (s.voc_augmented ? "true" : "false") << "\n"
    << "train-limit = " << s.train_limit << "\n"
    << "val-limit = " << s.val_limit << "\n"
    << "synthetic-size = " << s.synthetic_size << "\n"
    << "synthetic-classes = " << s.synthetic_classes << "\n"
    << "synthetic-count = " << s.synthetic_count << "\n"
    << "batch-size = " << s.batch_size << "\n"
    << "iter-size = " << s.iter_size << "\n"
    << "crop-height = " << s.crop_height << "\n"
    << "crop-width = " << s.crop_width << "\n"
    << "scale-min = " << s.scale_min << "\n"
    << "scale-max = " << s.scale_max << "\n"
    << "flip = " << (s.flip ? "true" : "false") << "\n"
    << "workers = " << s.workers << "\n"
    << "prefetch-batches = " << s.prefetch_batches << "\n"
    << "seed = " << s.seed << "\n"
    << "max-iterations = " << s.max_iterations << "\n"
    << "lr = " << s.lr << "\n"
    << "lr-policy = " << quoted(s.lr_policy) << "\n"
    << "lr-power = " << s.lr_power << "\n"
    << "lr-step-size = " << s.lr_step_size << "\n"
    << "lr-gamma = " << s.lr_gamma << "\n"
    << "warmup-iterations = " << s.warmup_iterations << "\n"
    << "momentum = " << s.momentum << "\n"
    << "weight-decay = " << s.weight_decay << "\n"
    << "nesterov = " << (s.nesterov ? "true" : "false") << "\n"
    << "momentum-style = " << quoted(s.momentum_style) << "\n"
    << "bn-mode = " << quoted(s.bn_mode) << "\n"
    << "bn-decay = " << s.bn_decay << "\n"
    << "loss-resolution = " << quoted(s.loss_resolution) << "\n"
    << "class-weighting = " << quoted(s.class_weighting) << "\n"
    << "validate-every = " << s.validate_every << "\n"
    << "val-scales = " << join(s.val_scales) << "\n"
    << "val-flip = " << (s.val_flip ? "true" : "false") << "\n"
    << "val-crop-size = " << s.val_crop_size << "\n"
    << "checkpoint-every = " << s.checkpoint_every << "\n"
    << "log-every = " << s.log_every << "\n"
    << "out-dir = " << quoted(s.out_dir) << "\n"
    << "device = " << quoted(s.device) << "\n";
  return o.str();
}

static DatasetSpec dataset_spec(const TrainSettings& s, const std::string& split, int64_t limit) {
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
  t.sgd.momentum_style = momentum_style_by_name(s.momentum_style);
  t.lr_policy.kind = s.lr_policy;
  t.lr_policy.base_lr = s.lr;
  t.lr_policy.max_iterations = s.max_iterations;
  t.lr_policy.power = s.lr_power;
  t.lr_policy.step_size = s.lr_step_size;
  t.lr_policy.gamma = s.lr_gamma;
  t.lr_policy.warmup_iterations = s.warmup_iterations;
  if (s.bn_mode != "model") {
    BnPolicy bn;
    bn.mode = s.bn_mode;
    bn.decay = s.bn_decay;
    t.bn = bn;
  }
  t.loss_resolution = loss_resolution_by_name(s.loss_resolution);
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
