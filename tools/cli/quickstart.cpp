// `atrous quickstart`: trains a small DeepLab-style net on generated data on the CPU, printing the loss as it falls,
// then reports mIoU on held-out generated images. Needs no files, no downloads and no GPU.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/atrous.h"
#include "data/image_io.h"
#include "data/palette.h"
#include "data/synthetic.h"
#include "models/inference.h"
#include "models/tiny_deeplab.h"
#include "solvers/checkpoint.h"
#include "solvers/metrics.h"
#include "solvers/sgd.h"
#include "tools/cli/commands.h"

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
};

// Writes the trained weights, one held-out image with its predicted mask and the metrics, so that the next command a
// user tries (`atrous segment --model tiny-deeplab ...`) has something to run on.
void write_outputs(const QuickstartOptions& o, TinyDeepLab& model, const SyntheticConfig& data,
                   const ConfusionMatrix& confusion) {
  std::filesystem::create_directories(o.out_dir);
  const std::string dir = o.out_dir + "/";
  save_module(dir + "weights.safetensors", model);
  SegmentationSample sample = make_synthetic_sample(data, 1 << 30);
  const Tensor image = sample.image.to(DType::u8);
  write_png(dir + "sample.png", image);
  InferenceOptions inference;
  inference.preprocessing = model.definition().preprocessing;
  const Tensor mask = argmax_channels(predict_logits(model, image, inference)).to(DType::u8);
  const Palette& palette = palette_by_name("voc");
  write_palette_png(dir + "sample_mask.png", mask, palette.colours);
  write_palette_png(dir + "sample_truth.png", sample.label, palette.colours);
  std::ofstream metrics(dir + "metrics.json");
  metrics << "{\"mean_iou\": " << confusion.mean_iou() << ", \"pixel_accuracy\": " << confusion.pixel_accuracy()
          << ", \"class_iou\": [";
  const auto iou = confusion.class_iou();
  for (size_t c = 0; c < iou.size(); ++c) metrics << (c ? ", " : "") << iou[c];
  metrics << "]}\n";
  std::printf("wrote %sweights.safetensors, sample.png, sample_mask.png, sample_truth.png, metrics.json\n", dir.c_str());
}

int run_quickstart(const QuickstartOptions& o) {
  using clock = std::chrono::steady_clock;
  SyntheticConfig data;
  data.height = data.width = o.size;
  data.num_classes = o.classes;
  data.seed = o.seed;
  Generator gen(o.seed);
  TinyDeepLabConfig model_config;
  model_config.num_classes = o.classes;
  TinyDeepLab model(model_config, gen);
  Sgd sgd(model.param_groups(), SgdOptions{o.lr, 0.9, 1e-4, false});
  std::printf("quickstart: TinyDeepLab (%lld parameters), %d classes, %dx%d synthetic images, batch %d, %d steps\n",
              static_cast<long long>(model.parameter_count()), o.classes, o.size, o.size, o.batch, o.steps);

  const auto start = clock::now();
  double running = 0;
  const int report_every = std::max(1, o.steps / 10);
  for (int step = 0; step < o.steps; ++step) {
    sgd.set_lr(o.lr * std::pow(1.0 - static_cast<double>(step) / o.steps, 0.9));  // DeepLab's "poly" policy
    SegmentationBatch batch = make_synthetic_batch(data, static_cast<int64_t>(step) * o.batch, o.batch);
    Tensor loss = softmax_cross_entropy(model.segment(batch.images), batch.labels);
    sgd.zero_grad();
    loss.backward();
    sgd.step();
    running += loss.item<double>();
    if ((step + 1) % report_every == 0 || step + 1 == o.steps) {
      const int span = (step + 1) % report_every == 0 ? report_every : (step + 1) % report_every;
      const double seconds = std::chrono::duration<double>(clock::now() - start).count();
      std::printf("  step %4d/%d  loss %.4f  lr %.4f  %.1f img/s\n", step + 1, o.steps, running / span, sgd.lr(),
                  (step + 1) * o.batch / seconds);
      running = 0;
    }
  }

  // Held-out images come from indices the training never drew.
  NoGradGuard no_grad;
  model.eval();
  ConfusionMatrix confusion(o.classes);
  const int64_t eval_start = static_cast<int64_t>(o.steps) * o.batch + 1000000;
  for (int i = 0; i < o.eval_images; i += o.batch) {
    const int n = std::min(o.batch, o.eval_images - i);
    SegmentationBatch batch = make_synthetic_batch(data, eval_start + i, n);
    confusion.add(argmax_channels(model.segment(batch.images)), batch.labels);
  }
  const double seconds = std::chrono::duration<double>(clock::now() - start).count();
  std::printf("held-out: mIoU %.3f, pixel accuracy %.3f over %d images (%.1f s in total)\n  class IoU:",
              confusion.mean_iou(), confusion.pixel_accuracy(), o.eval_images, seconds);
  for (double iou : confusion.class_iou()) std::printf(" %.3f", iou);
  std::printf("\n");
  if (!o.out_dir.empty()) write_outputs(o, model, data, confusion);
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
  cmd->add_option("--steps", options->steps, "training iterations")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch", options->batch, "images per batch")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--size", options->size, "image height and width")->capture_default_str()->check(CLI::Range(16, 1024));
  cmd->add_option("--classes", options->classes, "classes including background")->capture_default_str()->check(CLI::Range(2, 8));
  cmd->add_option("--lr", options->lr, "base learning rate (poly decay)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", options->seed, "seed for data and initial weights")->capture_default_str();
  cmd->add_option("--eval-images", options->eval_images, "held-out images to evaluate")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--out-dir", options->out_dir, "where to write weights, a sample mask and metrics ('' for nowhere)")->capture_default_str();
  cmd->add_option("--min-miou", options->min_miou, "fail (exit 2) when the held-out mIoU is below this")->capture_default_str();
  cmd->callback([options] {
    const int status = run_quickstart(*options);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace atrous::cli
