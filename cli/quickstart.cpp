// `atrous quickstart`: generates synthetic data, trains a small DeepLab (TinyDeepLab) with the Trainer (loader, poly
// lr, progress bar, logs, curve plot) on the CPU or, with --device cuda, a GPU, evaluates it on held-out generated
// images and writes the weights, a sample image with its predicted mask and the metrics. Needs no files, no
// downloads and no GPU.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/device_option.h"
#include "core/atrous.h"
#include "data/image_io.h"
#include "data/palette.h"
#include "models/inference.h"
#include "models/registry.h"
#include "train/trainer.h"

namespace atrous::cli {
namespace {

struct QuickstartOptions {
  int steps = 300;
  int batch = 8;
  int size = 64;
  int classes = 4;
  double lr = 0.05;
  uint64_t seed = 7;
  int eval_images = 32;
  double min_miou = 0.0;  // exit with an error below this (CI uses it)
  std::string out_dir = "atrous-quickstart";
  std::string config;
  std::string device = "cpu";
};

DatasetSpec synthetic_spec(const QuickstartOptions& o, const std::string& split, int64_t count) {
  DatasetSpec spec;
  spec.kind = "synthetic";
  spec.split = split;
  spec.synthetic_size = o.size;
  spec.synthetic_classes = o.classes;
  spec.synthetic_count = count;
  spec.synthetic_seed = o.seed;
  return spec;
}

// One held-out image with its predicted and true masks, so that the next command a user tries
// (`atrous segment --model tiny-deeplab --classes 4 --weights .../weights.safetensors --image .../sample.png`)
// has something to run on, and metrics.json for scripts.
void write_outputs(const QuickstartOptions& o, Device device, SegmentationModel& model, const SegmentationDataset& val,
                   const ConfusionMatrix& confusion) {
  const std::string dir = o.out_dir + "/";
  const LabeledImage sample = val.get(0);
  write_png(dir + "sample.png", sample.image);
  InferenceOptions inference;
  inference.preprocessing = model.definition().preprocessing;
  inference.device = device;
  const Tensor mask = argmax_channels(predict_logits(model, sample.image, inference)).to(DType::u8);
  const Palette& palette = palette_by_name("voc");
  write_palette_png(dir + "sample_mask.png", mask, palette.colours);
  write_palette_png(dir + "sample_truth.png", sample.label, palette.colours);
  std::ofstream metrics(dir + "metrics.json");
  metrics << "{\"mean_iou\": " << confusion.mean_iou() << ", \"pixel_accuracy\": " << confusion.pixel_accuracy()
          << ", \"class_iou\": [";
  const auto iou = confusion.class_iou();
  for (size_t c = 0; c < iou.size(); ++c) metrics << (c ? ", " : "") << iou[c];
  metrics << "]}\n";
  std::printf(
      "wrote %s: weights.safetensors, checkpoint.safetensors, sample.png, sample_mask.png, sample_truth.png, "
      "metrics.json, validation.json, train_log.csv/.jsonl, training_curves.png\n",
      o.out_dir.c_str());
}

int run_quickstart(const QuickstartOptions& o) {
  const Device device = device_option_value(o.device);
  // Every training image is new (as many as the run draws), like an endless generator; validation images come
  // from a disjoint part of the stream.
  const auto train_set = open_dataset(synthetic_spec(o, "train", std::max<int64_t>(256, int64_t(o.steps) * o.batch)));
  const auto val_set = open_dataset(synthetic_spec(o, "val", o.eval_images));
  ModelOptions model_options;
  model_options.num_classes = o.classes;
  model_options.seed = o.seed;
  auto model = create_model("tiny-deeplab", model_options);
  std::printf(
      "quickstart: TinyDeepLab (%lld parameters), %d classes, %dx%d synthetic images, batch %d, %d steps on %s\n",
      static_cast<long long>(model->parameter_count()), o.classes, o.size, o.size, o.batch, o.steps,
      device.str().c_str());
  std::fflush(stdout);

  LoaderOptions loader;
  loader.batch_size = o.batch;
  loader.augmentation.crop_height = loader.augmentation.crop_width = o.size;
  loader.augmentation.scale_min = loader.augmentation.scale_max = 1.0;
  loader.augmentation.flip = false;
  loader.preprocessing = model->definition().preprocessing;
  loader.seed = o.seed;

  TrainerOptions options;
  options.device = device;
  options.max_iterations = o.steps;
  options.sgd = SgdOptions{o.lr, 0.9, 1e-4, false};
  options.lr_policy.kind = LrSchedule::poly;  // DeepLab's: lr (1 - iter/max)^0.9
  options.lr_policy.base_lr = o.lr;
  options.lr_policy.max_iterations = o.steps;
  options.loss_resolution = LossResolution::Input;  // logits upsampled to the 64x64 labels
  options.dropout_seed = o.seed;
  options.log_every = std::max(1, o.steps / 10);
  options.out_dir = o.out_dir;
  if (!o.out_dir.empty()) std::filesystem::create_directories(o.out_dir);

  Trainer trainer(*model, *train_set, loader, options, val_set.get());
  const TrainResult result = trainer.train();
  ATROUS_CHECK(result.validation.has_value() || result.interrupted, "quickstart: no validation ran");
  if (result.interrupted) {
    std::printf("interrupted after %lld steps; checkpoint in %s\n", static_cast<long long>(result.iterations),
                o.out_dir.c_str());
    return 130;
  }
  const ConfusionMatrix& confusion = result.validation->confusion;
  std::printf(
      "trained %d steps in %.1f s (%.1f images/s); held-out: mIoU %.3f, pixel accuracy %.3f over %lld "
      "images\n  class IoU:",
      o.steps, result.seconds, result.images_per_second, confusion.mean_iou(), confusion.pixel_accuracy(),
      static_cast<long long>(result.validation->images));
  for (double iou : confusion.class_iou()) std::printf(" %.3f", iou);
  std::printf("\n");
  if (!o.out_dir.empty()) write_outputs(o, device, *model, *val_set, confusion);
  if (confusion.mean_iou() < o.min_miou) {
    std::fprintf(stderr, "error: mIoU %.3f is below the required %.3f\n", confusion.mean_iou(), o.min_miou);
    return 2;
  }
  return 0;
}

}  // namespace

void register_quickstart(CLI::App& app) {
  auto options = std::make_shared<QuickstartOptions>();
  CLI::App* cmd = app.add_subcommand("quickstart", "Train a small DeepLab on generated data (CPU, about a minute)");
  add_config_option(cmd, options->config);
  add_device_option(cmd, options->device, "training and evaluation");
  cmd->add_option("--steps", options->steps, "training iterations")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch", options->batch, "images per batch")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--size", options->size, "image height and width")
      ->capture_default_str()
      ->check(CLI::Range(16, 1024));
  cmd->add_option("--classes", options->classes, "classes including background")
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  cmd->add_option("--lr", options->lr, "base learning rate (poly decay)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", options->seed, "seed for data and initial weights")->capture_default_str();
  cmd->add_option("--eval-images", options->eval_images, "held-out images to evaluate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out-dir", options->out_dir,
                  "where to write weights, logs, the curve plot, a sample mask and metrics ('' for nowhere)")
      ->capture_default_str();
  cmd->add_option("--min-miou", options->min_miou, "fail (exit 2) when the held-out mIoU is below this")
      ->capture_default_str();
  cmd->callback([options, cmd] {
    apply_config_file(cmd, options->config);
    const int status = run_quickstart(*options);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace atrous::cli
