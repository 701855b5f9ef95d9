// `atrous crf-refine`: the dense CRF on one image and its class scores (probabilities or logits, .npy H x W x C
// float32, e.g. from `atrous segment --save-logits`); writes the refined label mask and optionally the marginals.
// --device cuda runs the mean field on the GPU (crf/cuda_dense_crf.h).
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/crf_options.h"
#include "cli/device_option.h"
#include "core/npy.h"
#include "crf/dense_crf.h"
#include "data/image_io.h"
#include "data/palette.h"

namespace atrous::cli {
namespace {

struct CrfRefineOptions {
  std::string image, probs, logits, out, save_probs, palette = "voc", device = "cpu";
  CrfFlags crf;
};

// Class scores from a .npy file, checked against the image; errors name the file.
Tensor load_scores(const std::string& path, const Tensor& image) {
  Tensor scores = load_npy(path);
  if (scores.dtype() == DType::f64) scores = scores.to(DType::f32);
  ATROUS_CHECK(scores.dtype() == DType::f32 && scores.dim() == 3 && scores.size(2) >= 1, "crf-refine: '", path,
               "' holds ", scores.description(), "; expected H x W x C float32 class scores");
  ATROUS_CHECK(scores.size(0) == image.size(0) && scores.size(1) == image.size(1), "crf-refine: '", path, "' is ",
               scores.size(0), "x", scores.size(1), " (H x W) but the image is ", image.size(0), "x", image.size(1));
  ATROUS_CHECK(scores.size(2) <= 256, "crf-refine: '", path, "' has ", scores.size(2),
               " classes; label PNGs hold at most 256");
  return scores;
}

Tensor argmax_u8(const Tensor& scores, bool lowest_first) {
  const int64_t n = scores.size(0) * scores.size(1), c = scores.size(2);
  const float* s = scores.data<float>();
  Tensor labels = Tensor::empty({scores.size(0), scores.size(1)}, DType::u8);
  uint8_t* out = labels.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t k = 1; k < c; ++k)
      if (lowest_first ? s[i * c + k] < s[i * c + best] : s[i * c + k] > s[i * c + best]) best = k;
    out[i] = static_cast<uint8_t>(best);
  }
  return labels;
}

void run_crf_refine(const CrfRefineOptions& o) {
  ATROUS_CHECK(o.probs.empty() != o.logits.empty(), "crf-refine: give exactly one of --probs and --logits");
  const Device device = device_option_value(o.device);
  const crf::DenseCrfParams params = o.crf.resolve("deeplab-v1-largefov");
  const Palette& palette = palette_by_name(o.palette);
  const Tensor image = read_image_rgb(o.image);
  const std::string& path = o.probs.empty() ? o.logits : o.probs;
  const Tensor scores = load_scores(path, image);
  Tensor unary;
  try {
    unary = o.probs.empty() ? crf::unary_from_logits(scores) : crf::unary_from_probabilities(scores);
  } catch (const Error& e) {
    ATROUS_FAIL("crf-refine: '", path, "': ", e.what());
  }

  const auto start = std::chrono::steady_clock::now();
  const Tensor probabilities = dense_crf_marginals(image, unary, params, device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const Tensor before = argmax_u8(unary, /*lowest_first=*/true);
  const Tensor after = argmax_u8(probabilities, false);
  int64_t changed = 0;
  for (int64_t i = 0; i < after.numel(); ++i) changed += before.data<uint8_t>()[i] != after.data<uint8_t>()[i];
  write_palette_png(o.out, after, palette.colours);
  if (!o.save_probs.empty()) save_npy(probabilities, o.save_probs);
  std::printf("%s: %lldx%lld, %lld classes, %s; %.3f s on %s; %.2f%% of pixels changed; wrote %s\n", o.image.c_str(),
              static_cast<long long>(image.size(1)), static_cast<long long>(image.size(0)),
              static_cast<long long>(scores.size(2)), params.str().c_str(), seconds, device.str().c_str(),
              100.0 * changed / after.numel(), o.out.c_str());
}

}  // namespace

void register_crf_refine(CLI::App& app) {
  auto o = std::make_shared<CrfRefineOptions>();
  CLI::App* cmd = app.add_subcommand(
      "crf-refine", "Refine one image's class scores with the fully connected CRF (mean field on our lattice)");
  cmd->add_option("--image", o->image, "PNG or JPEG image the scores belong to")->required()->check(CLI::ExistingFile);
  auto* probs =
      cmd->add_option("--probs", o->probs, "class probabilities, .npy H x W x C float32")->check(CLI::ExistingFile);
  auto* logits = cmd->add_option("--logits", o->logits, "class logits (unnormalised scores), .npy H x W x C float32")
                     ->check(CLI::ExistingFile);
  probs->excludes(logits);
  cmd->add_option("--out", o->out, "refined label mask to write (palette PNG)")->required();
  cmd->add_option("--save-probs", o->save_probs, "also write the CRF's marginals (.npy, H x W x C float32)");
  cmd->add_option("--palette", o->palette, "mask colours: " + palettes().joined_names(", "))->capture_default_str();
  add_device_option(cmd, o->device, "the mean field");
  add_crf_flags(cmd, o->crf);
  cmd->callback([o] { run_crf_refine(*o); });
}

}  // namespace atrous::cli
