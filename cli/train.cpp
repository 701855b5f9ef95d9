// `atrous train`: any registered model on VOC / CamVid / Cityscapes / synthetic data with the Trainer. Settings come,
// in increasing priority, from the built-in defaults, a named preset (--preset), a config file (--config, TOML or
// INI, keys = the long option names) and the command line.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/device_option.h"
#include "cli/setting_options.h"
#include "core/atrous.h"
#include "dist/communicator.h"
#include "dist/nccl_communicator.h"
#include "models/model_metadata.h"
#include "models/pytorch_weights.h"
#include "models/registry.h"
#include "train/class_weights.h"
#include "train/presets.h"
#include "train/train_settings.h"
#include "train/trainer.h"
#include "train/training_log.h"

namespace atrous::cli {
namespace {

struct TrainCommand {
  SettingOverrides overrides;  // the settings given (command line, config file), over the preset's
  std::string config;
  std::string preset;
  std::string resume;
  std::string replot;
  CLI::Option* model_option = nullptr;  // given (command line or config file) or not
  CLI::Option* output_stride_option = nullptr;
  CLI::Option* warmup_option = nullptr;
  bool list_presets = false;
  bool print_settings = false;
};

void print_presets() {
  for (const TrainPreset& p : training_presets().entries()) {
    const TrainSettings& s = p.settings;
    std::printf("%-14s %s\n", p.name.c_str(), p.summary.c_str());
    std::printf("               model %s%s, dataset %s, batch %d x iter_size %d, crop %dx%d, scale %g-%g%s,\n",
                s.model.c_str(), s.output_stride ? (" OS" + std::to_string(s.output_stride)).c_str() : "",
                s.dataset.c_str(), s.batch_size, s.iter_size, s.crop_height, s.crop_width, s.scale_min, s.scale_max,
                s.flip ? " + flip" : "");
    std::printf(
        "               lr %g %s (power %g), momentum %g (%s), weight decay %g, BN %s%s, loss at %s, %lld "
        "iterations\n",
        s.lr, lr_schedules().name_of(s.lr_policy).c_str(), s.lr_power, s.momentum,
        momentum_styles().name_of(s.momentum_style).c_str(), s.weight_decay,
        train_bn_modes().name_of(s.bn_mode).c_str(),
        s.bn_mode == TrainBnMode::decay ? (" " + std::to_string(s.bn_decay).substr(0, 6)).c_str() : "",
        s.loss_resolution == LossResolution::Output ? "logits size (labels subsampled)"
                                                    : "label size (logits upsampled)",
        static_cast<long long>(s.max_iterations));
  }
  std::printf(
      "\n`atrous train --preset NAME --print-settings` shows every setting; flags and --config override them.\n");
}

// A run started from --init-weights with no model named (by --model, a config file or a preset) trains the model the
// file records: its name and output stride. The classes stay the dataset's, as in any fine-tuning (a classifier of
// another size is reported as not loaded).
void adopt_model_of_init_weights(TrainSettings& s, bool output_stride_given) {
  const std::optional<SavedModelInfo> info = saved_model_info(SafetensorsFile(s.init_weights));
  ATROUS_CHECK(info.has_value(), "train: ", s.init_weights,
               " does not say which model it holds (no 'model.name' in its metadata); pass --model");
  s.model = info->name;
  if (!output_stride_given) s.output_stride = info->output_stride;
}

void print_summary(const TrainResult& r, const std::string& out_dir) {
  std::printf(
      "%s after %lld iterations (%lld in this run): %.1f s, %.2f images/s training, %.0f%% of step time "
      "waiting for data; last loss %.4f\n",
      r.interrupted ? "interrupted" : "finished", static_cast<long long>(r.iterations),
      static_cast<long long>(r.steps_this_run), r.seconds, r.images_per_second, 100 * r.data_wait_fraction,
      r.last_loss);
  if (r.validation) std::printf("%s", r.validation->table().c_str());
  if (!r.checkpoint.empty()) std::printf("checkpoint: %s (continue with --resume auto)\n", r.checkpoint.c_str());
  std::printf("logs: %s/train_log.csv, %s/train_log.jsonl\n", out_dir.c_str(), out_dir.c_str());
  if (r.ranks > 1)
    std::printf(
        "%d ranks; %.1f MB of gradients all-reduced per step by each rank in %lld buckets, %.1f of them "
        "started during backward; the reduction added %.1f ms per step after backward\n",
        r.ranks, r.bytes_all_reduced_per_step / 1e6, static_cast<long long>(r.buckets_per_step),
        r.buckets_overlapped_per_step, 1e3 * r.gradient_finish_seconds_per_step);
}

// A preset's warmup is a share of its recipe's length: a run cut short with --max-iterations keeps that share
// instead of failing because the warmup no longer fits (the camvid preset's 50 of 1000 iterations become 2 of a
// 50-iteration trial). A warmup given on the command line or in a config file is taken as given.
// Returns the note to print, or "".
std::string fit_preset_warmup(TrainSettings& s, int64_t recipe_iterations, bool warmup_given) {
  if (warmup_given || s.warmup_iterations < s.max_iterations || recipe_iterations <= 0) return "";
  const int64_t fitted = s.warmup_iterations * s.max_iterations / recipe_iterations;
  const std::string note = "warmup: the preset's " + std::to_string(s.warmup_iterations) + " of " +
                           std::to_string(recipe_iterations) + " iterations scaled to " + std::to_string(fitted) +
                           " of " + std::to_string(s.max_iterations) + " (--warmup-iterations sets it)\n";
  s.warmup_iterations = fitted;
  return note;
}

int run_train(TrainCommand& c) {
  if (c.list_presets) {
    print_presets();
    return 0;
  }
  if (!c.replot.empty()) {
    const std::string png = c.replot + "/training_curves.png";
    // The title names the model and dataset when the run's settings.toml says them.
    std::string title = "training curves: " + c.replot;
    std::ifstream settings(c.replot + "/settings.toml");
    std::string line, model, dataset;
    while (std::getline(settings, line)) {
      auto value = [&line](const std::string& key) {
        return line.rfind(key + " = \"", 0) == 0 ? line.substr(key.size() + 4, line.size() - key.size() - 5) : "";
      };
      if (!value("model").empty()) model = value("model");
      if (!value("dataset").empty()) dataset = value("dataset");
    }
    if (!model.empty()) title = model + " on " + dataset + ": training curves";
    write_training_curves(png, read_training_log_csv(c.replot + "/train_log.csv"), title);
    std::printf("wrote %s\n", png.c_str());
    return 0;
  }
  TrainSettings s = c.preset.empty() ? TrainSettings{} : training_preset(c.preset).settings;
  const int64_t recipe_iterations = s.max_iterations;
  c.overrides.apply(s);
  const std::string warmup_note = fit_preset_warmup(s, recipe_iterations, c.warmup_option->count() > 0);
  const bool model_from_weights = c.preset.empty() && c.model_option->count() == 0 && !s.init_weights.empty();
  if (model_from_weights) adopt_model_of_init_weights(s, c.output_stride_option->count() > 0);
  validate_settings(s);
  const std::string model_source = model_from_weights ? "as recorded in " + s.init_weights : "";
  if (c.print_settings) {
    std::string origin = c.preset.empty() ? "" : "preset " + c.preset;
    if (model_from_weights) origin += "model " + model_source;
    std::printf("# atrous train settings%s\n%s", origin.empty() ? "" : (" (" + origin + ")").c_str(),
                settings_to_toml(s).c_str());
    if (!warmup_note.empty()) std::printf("# %s", warmup_note.c_str());
    return 0;
  }
  // Settings only check the device's spelling (they print anywhere); training needs it here, before any data loads.
  Device device = device_option_value(s.device);
  // Under mpirun every rank runs this; rank 0 alone speaks (and the Trainer lets it alone write files).
  std::shared_ptr<dist::Communicator> ranks = dist::world();
  if (!ranks->is_root() && !std::freopen("/dev/null", "w", stdout)) std::fclose(stdout);
  std::printf("%s", warmup_note.c_str());
  if (ranks->size() > 1 && device.is_cuda()) {
    // `--device cuda` without an index: the ranks of one machine take its GPUs in turn.
    if (s.device == "cuda") device = Device::cuda(dist::local_rank() % std::max(1, cuda::device_count()));
    // Gradients reduced in device memory by NCCL where the build has it, else through host memory over MPI.
    if (dist::nccl_built()) ranks = dist::make_nccl(ranks, device.index);
  }

  const auto train_set = open_dataset(train_dataset_spec(s));
  std::unique_ptr<SegmentationDataset> val_set;
  if (!s.val_split.empty()) val_set = open_dataset(val_dataset_spec(s));
  auto model = create_model(s.model, model_options(s, train_set->num_classes()));
  if (!s.init_weights.empty()) {
    // Fine-tuning starts from weights trained elsewhere (an ImageNet backbone, another dataset's classifier): what
    // does not fit is reported, not an error.
    const ImportReport report = load_weights_any(s.init_weights, *model, /*strict=*/false);
    std::printf("init weights: %d tensors from %s\n", report.loaded, s.init_weights.c_str());
    for (const std::string& line : report.lines()) std::printf("  %s\n", line.c_str());
  }
  const LoaderOptions loader = loader_options(s, model->definition().preprocessing);
  TrainerOptions options = trainer_options(s);
  options.ranks = ranks;
  if (s.class_weighting == ClassWeighting::median_frequency) {
    options.class_weights = median_frequency_weights(*train_set);
    std::printf("class weights (median frequency):");
    for (float w : options.class_weights) std::printf(" %.3f", w);
    std::printf("\n");
  }
  if (ranks->is_root()) {
    std::filesystem::create_directories(s.out_dir);
    std::ofstream settings(s.out_dir + "/settings.toml");
    settings << "# the settings of this run; `atrous train --config` takes this file\n" << settings_to_toml(s);
  }
  std::printf("train: %s (%lld parameters%s) on %s\n", s.model.c_str(),
              static_cast<long long>(model->parameter_count()), model_from_weights ? (", " + model_source).c_str() : "",
              train_set->describe().c_str());
  if (val_set) std::printf("validation: %s\n", val_set->describe().c_str());
  std::printf("batch %d x iter_size %d, crop %dx%d, lr %g %s, %lld iterations on %s, writing to %s\n", s.batch_size,
              s.iter_size, s.crop_height, s.crop_width, s.lr, lr_schedules().name_of(s.lr_policy).c_str(),
              static_cast<long long>(s.max_iterations), device.str().c_str(), s.out_dir.c_str());
  if (ranks->size() > 1)
    std::printf("data-parallel over %d ranks (%s): %d images per rank, a global batch of %d\n", ranks->size(),
                ranks->backend().c_str(), s.batch_size, s.batch_size * ranks->size());
  std::fflush(stdout);

  Trainer trainer(*model, *train_set, loader, options, val_set.get());
  if (!c.resume.empty()) {
    const std::string path = c.resume == "auto" ? trainer.checkpoint_path() : c.resume;
    trainer.resume(path);
    std::printf("resumed from %s at iteration %lld\n", path.c_str(), static_cast<long long>(trainer.iteration()));
  }
  const TrainResult result = trainer.train();
  print_summary(result, s.out_dir);
  return result.interrupted ? 130 : 0;  // 128 + SIGINT, as a shell reports a Ctrl-C'd command
}

}  // namespace

void register_train(CLI::App& app) {
  auto c = std::make_shared<TrainCommand>();
  CLI::App* cmd = app.add_subcommand("train", "Train a registered model on VOC / CamVid / Cityscapes / synthetic data");
  add_config_option(cmd, c->config);
  cmd->add_option("--preset", c->preset, "start from a named recipe (see --list-presets)");
  cmd->add_flag("--list-presets", c->list_presets, "print the presets and exit");
  cmd->add_flag("--print-settings", c->print_settings, "print the resolved settings (TOML) and exit");
  cmd->add_option("--replot", c->replot, "redraw RUN_DIR/training_curves.png from RUN_DIR/train_log.csv and exit");
  cmd->add_option("--resume", c->resume,
                  "continue from a checkpoint ('auto': <out-dir>/checkpoint.safetensors) exactly where it stopped");
  // A shorthand for two settings, applied before them: --crop-height and --crop-width refine it.
  auto crop = std::make_shared<int>(0);
  CLI::Option* crop_size =
      cmd->add_option("--crop-size", *crop, "square training crop (sets crop-height and crop-width)");
  c->overrides.changes.push_back([crop_size, crop](TrainSettings& s) {
    if (crop_size->count() > 0) s.crop_height = s.crop_width = *crop;
  });
  add_dataset_options(cmd, c->overrides);
  for (const TrainSetting& setting : train_settings().entries()) {
    if (!is_dataset_setting(setting)) add_setting_option(cmd, c->overrides, setting);
  }
  c->model_option = cmd->get_option("--model");
  c->output_stride_option = cmd->get_option("--output-stride");
  c->warmup_option = cmd->get_option("--warmup-iterations");
  cmd->callback([c, cmd] {
    apply_config_file(cmd, c->config);  // before the preset is resolved: the file may name it
    const int status = run_train(*c);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace atrous::cli
