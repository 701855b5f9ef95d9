// `atrous segment`: one image through a registered model with given weights; writes the label mask (palette PNG),
// optionally a colour overlay and the logits (.npy, H x W x C float32).
#include <cstdio>

#include "cli/commands.h"
#include "cli/crf_options.h"
#include "cli/device_option.h"
#include "cli/model_option.h"
#include "core/atrous.h"
#include "crf/dense_crf.h"
#include "data/image_io.h"
#include "data/palette.h"
#include "models/inference.h"
#include "models/pytorch_weights.h"
#include "models/registry.h"

namespace atrous::cli {
namespace {

struct SegmentOptions {
  std::string model;
  std::string weights;
  std::string image;
  std::string out;
  std::string overlay;
  std::string save_logits;
  std::string palette = "voc";
  std::string device = "cpu";  // the model and, with --crf, the mean field
  int classes = 0;  // 0: as the weights file says (21 with --model)
  int output_stride = 0;
  std::vector<double> scales{1.0};  // unless given: as the weights file records, else 1
  bool flip = false;
  bool scales_given = false;
  bool flip_given = false;
  std::vector<float> mean, std;
  bool crf = false;  // refine with the dense CRF (the model's DeepLab preset unless --preset / flags say otherwise)
  CrfFlags crf_flags;
};

void run_segment(const SegmentOptions& o) {
  ATROUS_CHECK(o.crf || !o.crf_flags.any(), "segment: CRF parameters were given without --crf");
  const Device device = device_option_value(o.device);
  ModelOptions model_options;
  model_options.num_classes = o.classes;
  auto model = model_for_weights("segment", o.model, o.weights, model_options);
  if (o.output_stride != 0) model->set_output_stride(o.output_stride);
  const std::string& model_name = model->definition().name;
  load_weights_any(o.weights, *model, /*strict=*/true);  // our files, PyTorch exports or checkpoints

  InferenceOptions inference;
  inference.scales = o.scales;
  inference.flip = o.flip;
  adopt_recorded_inference("segment", o.weights, o.scales_given, o.flip_given, inference.scales, inference.flip);
  inference.device = device;
  inference.preprocessing = model->definition().preprocessing;
  if (!o.mean.empty()) std::copy(o.mean.begin(), o.mean.end(), inference.preprocessing.mean.begin());
  if (!o.std.empty()) std::copy(o.std.begin(), o.std.end(), inference.preprocessing.std.begin());

  const Tensor image = read_image_rgb(o.image);
  const Palette& palette = palette_by_name(o.palette);
  const Tensor logits = predict_logits(*model, image, inference);
  const Tensor scores = o.crf
                            ? dense_crf_marginals(image, crf::unary_from_logits(logits),
                                                  o.crf_flags.resolve(crf::crf_preset_for_model(model_name).name), device)
                            : logits;
  const Tensor labels = argmax_channels(scores).to(DType::u8);
  write_palette_png(o.out, labels, palette.colours);
  if (!o.overlay.empty()) write_png(o.overlay, overlay(image, labels, palette));
  if (!o.save_logits.empty()) save_npy(logits, o.save_logits);
  std::printf("%s: %lldx%lld, %s (%s) on %s, wrote %s\n", o.image.c_str(), static_cast<long long>(image.size(1)),
              static_cast<long long>(image.size(0)), model_name.c_str(), inference.preprocessing.str().c_str(),
              device.str().c_str(), o.out.c_str());
}

}  // namespace

void register_segment(CLI::App& app) {
  auto o = std::make_shared<SegmentOptions>();
  CLI::App* cmd = app.add_subcommand("segment", "Segment one image with a model and its weights");
  cmd->add_option("--model", o->model,
                  "registered model name (see `atrous models`); default: the one the weights file records");
  cmd->add_option("--weights", o->weights, "safetensors weights: ours, a training checkpoint, or PyTorch names/layout")->required()->check(CLI::ExistingFile);
  cmd->add_option("--image", o->image, "PNG or JPEG image")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", o->out, "label mask to write (palette PNG)")->required();
  cmd->add_option("--classes", o->classes,
                  "number of classes the weights were trained for (default: as the weights file records, else 21)");
  cmd->add_option("--output-stride", o->output_stride, "evaluate at this output stride (8 or 16, where the model allows)");
  CLI::Option* scales = cmd->add_option("--scales", o->scales,
                                        "input scales whose logits are averaged, e.g. 0.5 0.75 1 "
                                        "1.25 (default: as the weights file records, else 1)");
  CLI::Option* flip = cmd->add_flag("--flip,!--no-flip", o->flip,
                                    "also average the left-right flipped image's logits "
                                    "(default: as the weights file records, else no)");
  cmd->add_option("--overlay", o->overlay, "also write the image blended with the colour mask (PNG)");
  cmd->add_option("--save-logits", o->save_logits, "also write the logits resized to the image (.npy, H x W x C float32)");
  cmd->add_option("--palette", o->palette, "colours: " + palettes().joined_names(", "))->capture_default_str();
  cmd->add_option("--mean", o->mean, "override the model's input mean (3 values, model channel order)")->expected(3);
  cmd->add_option("--std", o->std, "override the model's input std (3 values)")->expected(3);
  add_device_option(cmd, o->device, "the model (and the CRF's mean field with --crf)");
  cmd->add_flag("--crf", o->crf, "refine with the fully connected CRF (DeepLab's preset for the model; CRF flags below)");
  add_crf_flags(cmd, o->crf_flags);
  cmd->callback([o, scales, flip] {
    o->scales_given = scales->count() > 0;
    o->flip_given = flip->count() > 0;
    run_segment(*o);
  });
}

}  // namespace atrous::cli
