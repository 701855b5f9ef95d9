// `atrous evaluate`: a model's weights (or a training checkpoint) on a dataset split: one confusion matrix over the
// whole split, the per-class IoU table printed and written as JSON, optionally multi-scale + flip inference,
// sliding windows, trimap mIoU and colour masks for a sample of images.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/crf_options.h"
#include "cli/device_option.h"
#include "cli/model_option.h"
#include "cli/setting_options.h"
#include "core/atrous.h"
#include "crf/dense_crf.h"
#include "data/dataset.h"
#include "eval/evaluator.h"
#include "models/pytorch_weights.h"
#include "models/registry.h"

namespace atrous::cli {
namespace {

// Evaluation's dataset unless --dataset says otherwise (training's default is the synthetic set).
constexpr const char* kDefaultDataset = "camvid";

struct EvaluateCommand {
  std::string config;
  std::string device = "cpu";  // the model and, with --crf, the mean field
  std::string model;
  std::string weights;
  SettingOverrides dataset;  // --dataset, --data-root, ... as `atrous train` takes them (default: kDefaultDataset)
  std::string split = "val";
  int classes = 0;
  int output_stride = 0;
  std::vector<double> scales{1.0};  // unless given: as the weights file records, else 1
  bool flip = false;
  bool scales_given = false;
  bool flip_given = false;
  int crop_size = 0;
  std::vector<int> trimap;
  std::string save_masks;
  int samples = 8;
  int64_t limit = 0;
  std::string json = "evaluation.json";
  uint64_t synthetic_seed = 1;
  bool crf = false;  // refine with the dense CRF (the model's DeepLab preset unless --preset / CRF flags say otherwise)
  CrfFlags crf_flags;
};

void run_evaluate(const EvaluateCommand& c) {
  ATROUS_CHECK(c.crf || !c.crf_flags.any(), "evaluate: CRF parameters were given without --crf");
  const Device device = device_option_value(c.device);
  TrainSettings settings;
  settings.dataset = kDefaultDataset;
  c.dataset.apply(settings);
  DatasetSpec spec = dataset_spec(settings, c.split, c.limit);
  spec.synthetic_seed = c.synthetic_seed;
  const auto dataset = open_dataset(spec);

  ModelOptions model_options;
  model_options.num_classes = c.classes > 0 ? c.classes : c.model.empty() ? 0 : dataset->num_classes();
  model_options.output_stride = c.output_stride;
  auto model = model_for_weights("evaluate", c.model, c.weights, model_options);
  const std::string& model_name = model->definition().name;
  ATROUS_CHECK(model->num_classes() == dataset->num_classes(), "evaluate: ", model_name, " predicts ",
               model->num_classes(), " classes but ", dataset->describe(), " has ", dataset->num_classes());
  load_weights_any(c.weights, *model, /*strict=*/true);

  EvaluationOptions options;
  options.device = device;
  options.scales = c.scales;
  options.flip = c.flip;
  adopt_recorded_inference("evaluate", c.weights, c.scales_given, c.flip_given, options.scales, options.flip);
  options.crop_size = c.crop_size;
  options.trimap_bands = c.trimap;
  options.output_dir = c.save_masks;
  options.write_samples = c.samples;
  options.progress = true;
  if (c.crf) {
    const crf::DenseCrfParams params = c.crf_flags.resolve(crf::crf_preset_for_model(model_name).name);
    std::printf("dense CRF: %s\n", params.str().c_str());
    // The CRF's marginals replace the logits; the evaluator takes their argmax.
    options.refine = [params, device](const Tensor& image, const Tensor& logits) {
      return dense_crf_marginals(image, crf::unary_from_logits(logits), params, device);
    };
  }
  std::printf("evaluate: %s (%s) on %s, device %s\n", model_name.c_str(), c.weights.c_str(), dataset->describe().c_str(),
              device.str().c_str());
  std::fflush(stdout);
  const EvaluationResult result = evaluate(*model, *dataset, options);
  std::printf("%s", result.table().c_str());
  if (!c.json.empty()) {
    const std::filesystem::path parent = std::filesystem::path(c.json).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    std::ofstream out(c.json);
    out << result.json() << "\n";
    ATROUS_CHECK(out.good(), "evaluate: cannot write ", c.json);
    std::printf("wrote %s\n", c.json.c_str());
  }
  if (!c.save_masks.empty()) std::printf("masks and overlays in %s\n", c.save_masks.c_str());
}

}  // namespace

void register_evaluate(CLI::App& app) {
  auto c = std::make_shared<EvaluateCommand>();
  CLI::App* cmd = app.add_subcommand("evaluate", "Evaluate weights or a checkpoint on a dataset split (per-class IoU)");
  add_config_option(cmd, c->config);
  cmd->add_option("--model", c->model,
                  "registered model name (see `atrous models`); default: the one the weights file records");
  cmd->add_option("--weights,--checkpoint", c->weights, "weights (ours or PyTorch) or a training checkpoint")
      ->required()
      ->check(CLI::ExistingFile);
  add_dataset_options(cmd, c->dataset);
  cmd->get_option("--dataset")->default_str(std::string("\"") + kDefaultDataset + "\"");
  cmd->add_option("--split", c->split, "split (list name) to evaluate")->capture_default_str();
  cmd->add_option("--classes", c->classes, "classes the weights predict (0: the dataset's)");
  cmd->add_option("--output-stride", c->output_stride, "evaluate at this output stride (where the model allows)");
  CLI::Option* scales = cmd->add_option("--scales", c->scales,
                                        "input scales whose logits are averaged, e.g. 0.5 0.75 1 "
                                        "1.25 1.5 1.75 (default: as the weights file records, "
                                        "else 1)");
  CLI::Option* flip = cmd->add_flag("--flip,!--no-flip", c->flip,
                                    "also average the left-right flipped "
                                    "images' logits (default: as the weights "
                                    "file records, else no)");
  cmd->add_option("--crop-size", c->crop_size, "sliding-window size for images larger than it (0: whole images)");
  cmd->add_option("--trimap", c->trimap, "also report mIoU within these bands (pixels) around label boundaries");
  cmd->add_option("--save-masks", c->save_masks, "write colour masks and overlays of a sample of images here");
  cmd->add_option("--samples", c->samples, "how many images get masks written")->capture_default_str();
  cmd->add_option("--limit", c->limit, "only the first N images (0: all)");
  cmd->add_option("--json", c->json, "write the results as JSON here ('' for nowhere)")->capture_default_str();
  cmd->add_option("--synthetic-seed", c->synthetic_seed, "synthetic dataset: seed (as trained with --seed)")
      ->capture_default_str();
  add_device_option(cmd, c->device, "the model (and the CRF's mean field with --crf)");
  cmd->add_flag("--crf", c->crf,
                "refine with the fully connected CRF (DeepLab's preset for the model; CRF flags below)");
  add_crf_flags(cmd, c->crf_flags);
  cmd->callback([c, cmd, scales, flip] {
    apply_config_file(cmd, c->config);
    c->scales_given = scales->count() > 0;
    c->flip_given = flip->count() > 0;
    run_evaluate(*c);
  });
}

}  // namespace atrous::cli
