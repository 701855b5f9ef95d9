#include "eval/evaluator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atrous.h"
#include "core/device_name.h"
#include "data/image_io.h"
#include "data/palette.h"
#include "dist/communicator.h"
#include "eval/sliding_window.h"
#include "eval/trimap.h"
#include "models/inference.h"

namespace atrous {

namespace {

void check_options(const EvaluationOptions& o) {
  ATROUS_CHECK(!o.scales.empty(), "evaluate: need at least one scale");
  for (double s : o.scales) ATROUS_CHECK(s > 0 && std::isfinite(s), "evaluate: scales must be positive, got ", s);
  ATROUS_CHECK(o.crop_size >= 0, "evaluate: crop_size must be >= 0 (0: whole images), got ", o.crop_size);
  ATROUS_CHECK(std::isfinite(o.window_overlap) && o.window_overlap >= 0 && o.window_overlap < 1,
               "evaluate: window_overlap must be in [0, 1), got ", o.window_overlap);
  for (int b : o.trimap_bands) ATROUS_CHECK(b >= 1, "evaluate: trimap bands must be >= 1 pixel, got ", b);
  ATROUS_CHECK(o.limit >= 0, "evaluate: limit must be >= 0, got ", o.limit);
  ATROUS_CHECK(o.write_samples >= 0, "evaluate: write_samples must be >= 0, got ", o.write_samples);
}

// Ids may hold folders ("aachen/aachen_000000_000019"); written files stay flat in output_dir.
std::string file_stem(const std::string& id, int64_t index) {
  std::string stem = id.empty() ? "image_" + std::to_string(index) : id;
  for (char& c : stem)
    if (c == '/' || c == '\\') c = '_';
  return stem;
}

std::string percent(double v) {
  if (std::isnan(v)) return "-";
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << 100.0 * v;
  return out.str();
}

}  // namespace

Tensor infer_image(SegmentationModel& model, const Tensor& image_rgb, const EvaluationOptions& options) {
  ATROUS_CHECK(image_rgb.defined() && image_rgb.dim() == 3 && image_rgb.size(2) == 3 && image_rgb.dtype() == DType::u8,
               "infer_image: expected an RGB image u8 [H,W,3], got ", image_rgb.description());
  check_options(options);
  require_device_available(options.device, "infer_image");
  NoGradGuard no_grad;
  model.to(options.device);  // a no-op when the model is there already (every image of evaluate)
  model.eval();
  const int64_t h = image_rgb.size(0), w = image_rgb.size(1);
  const bool align = model.definition().align_corners;
  const Tensor input = preprocess(image_rgb.to(Device::cpu()), model.definition().preprocessing).to(options.device);
  // The same composition as predict_logits (models/inference.h), with a sliding window where the scaled image
  // exceeds the crop: logits of every scale and flip resized to the image and averaged.
  Tensor total;
  int count = 0;
  for (double s : options.scales) {
    const int64_t sh = std::max<int64_t>(1, std::llround(h * s)), sw = std::max<int64_t>(1, std::llround(w * s));
    const Tensor scaled = s == 1.0 ? input : resize_bilinear(input, ResizeParams::to_size(sh, sw, align));
    const bool sliding = options.crop_size > 0 && (sh > options.crop_size || sw > options.crop_size);
    for (int flipped = 0; flipped <= (options.flip ? 1 : 0); ++flipped) {
      const Tensor x = flipped ? flip_horizontal(scaled) : scaled;
      Tensor logits =
          sliding ? sliding_window_logits(model, x, options.crop_size, options.window_overlap) : model.forward(x);
      if (flipped) logits = flip_horizontal(logits);
      if (logits.size(1) != h || logits.size(2) != w)
        logits = resize_bilinear(logits, ResizeParams::to_size(h, w, align));
      total = total.defined() ? add(total, logits) : logits;
      ++count;
    }
  }
  if (count > 1) total = scale(total, 1.0 / count);
  return total.reshape({h, w, total.size(3)}).to(Device::cpu());
}

EvaluationResult evaluate(SegmentationModel& model, const SegmentationDataset& dataset,
                          const EvaluationOptions& options) {
  check_options(options);
  require_device_available(options.device, "evaluate");
  const int classes = dataset.num_classes(), ignore = dataset.ignore_index();
  ATROUS_CHECK(model.num_classes() == classes, "evaluate: the model predicts ", model.num_classes(),
               " classes but the dataset (", dataset.describe(), ") has ", classes);
  const Palette& palette = palette_by_name(dataset.palette_name());
  EvaluationResult result{ConfusionMatrix(classes, ignore), {}, 0, 0.0, {}};
  for (int c = 0; c < classes; ++c)
    result.class_names.push_back(c < static_cast<int>(palette.class_names.size()) ? palette.class_names[c]
                                                                                  : "class " + std::to_string(c));
  std::vector<ConfusionMatrix> trimap;
  for (size_t b = 0; b < options.trimap_bands.size(); ++b) trimap.emplace_back(classes, ignore);
  if (!options.output_dir.empty()) {
    // Masks are 8-bit palette PNGs.
    ATROUS_CHECK(classes <= 256, "evaluate: cannot write masks of ", classes, " classes as 8-bit PNGs to ",
                 options.output_dir);
    std::error_code error;
    std::filesystem::create_directories(options.output_dir, error);
    ATROUS_CHECK(!error, "evaluate: cannot create the output folder ", options.output_dir, ": ", error.message());
  }

  const auto start = std::chrono::steady_clock::now();
  const int64_t n = options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();
  const bool stderr_is_terminal = isatty(fileno(stderr)) != 0;
  const int rank = options.ranks ? options.ranks->rank() : 0, ranks = options.ranks ? options.ranks->size() : 1;
  for (int64_t i = rank; i < n; i += ranks) {
    const LabeledImage item = dataset.get(i);
    const int64_t h = item.image.size(0), w = item.image.size(1);
    Tensor logits = infer_image(model, item.image, options);
    if (options.refine) {
      logits = options.refine(item.image, logits);
      ATROUS_CHECK(logits.defined() && logits.shape() == (Shape{h, w, classes}),
                   "evaluate: the refine hook must return [", h, ",", w, ",", classes, "] for image '", item.id,
                   "', got ", logits.description());
      logits = logits.to(Device::cpu());  // a hook may answer on its own device; the metrics count on the CPU
    }
    const Tensor predicted = argmax_channels(logits.reshape({1, h, w, classes})).reshape({h, w});
    ATROUS_CHECK(item.label.shape() == (Shape{h, w}), "evaluate: label ", item.label.description(), " of image '",
                 item.id, "' does not match the image ", item.image.description());
    result.confusion.add(predicted, item.label);
    for (size_t b = 0; b < options.trimap_bands.size(); ++b) {
      // Pixels outside the band become ignore pixels, so the band's matrix counts only the band.
      const Tensor band = trimap_mask(item.label, options.trimap_bands[b], ignore);
      Tensor masked = item.label.to(DType::i32).contiguous();
      const uint8_t* in_band = band.data<uint8_t>();
      int32_t* lab = masked.data<int32_t>();
      for (int64_t p = 0; p < h * w; ++p)
        if (!in_band[p]) lab[p] = ignore;
      trimap[b].add(predicted, masked);
    }
    if (!options.output_dir.empty() && i < options.write_samples) {
      const std::string stem = (std::filesystem::path(options.output_dir) / file_stem(item.id, i)).string();
      write_palette_png(stem + "_mask.png", predicted.to(DType::u8), palette.colours);
      write_png(stem + "_overlay.png", overlay(item.image, predicted, palette));
    }
    ++result.images;
    if (options.progress) {
      // A terminal gets one line rewritten in place; a log file a line per tenth of the set, not a pile of '\r's.
      const bool last = i + ranks >= n;
      if (stderr_is_terminal || last || (i + 1) % std::max<int64_t>(1, n / 10) == 0)
        std::fprintf(stderr, "%sevaluate: %lld/%lld images, mIoU so far %s%s", stderr_is_terminal ? "\r" : "",
                     static_cast<long long>(i + 1), static_cast<long long>(n),
                     percent(result.confusion.mean_iou()).c_str(), stderr_is_terminal && !last ? "" : "\n");
    }
  }
  if (ranks > 1) {
    dist::Communicator& comm = *options.ranks;
    comm.all_reduce_sum(result.confusion.counts().data(), static_cast<int64_t>(result.confusion.counts().size()));
    for (ConfusionMatrix& band : trimap) comm.all_reduce_sum(band.counts().data(), static_cast<int64_t>(band.counts().size()));
    comm.all_reduce_sum(&result.images, 1);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t b = 0; b < options.trimap_bands.size(); ++b)
    result.trimap_miou.emplace_back(options.trimap_bands[b], trimap[b].mean_iou());
  return result;
}

std::string EvaluationResult::table() const {
  const int classes = confusion.num_classes();
  size_t name_width = 10;
  for (int c = 0; c < classes; ++c)
    name_width = std::max(name_width, c < static_cast<int>(class_names.size()) ? class_names[c].size() : 8);
  const std::vector<double> iou = confusion.class_iou();
  std::ostringstream out;
  auto row = [&](const std::string& name, const std::string& value, const std::string& extra) {
    out << std::left << std::setw(static_cast<int>(name_width) + 2) << name << std::right << std::setw(8) << value
        << extra << "\n";
  };
  row("class", "IoU %", "      pixels");
  out << std::string(name_width + 2 + 8 + 12, '-') << "\n";
  for (int c = 0; c < classes; ++c) {
    std::ostringstream pixels;
    pixels << std::setw(12) << confusion.truth_pixels(c);
    row(c < static_cast<int>(class_names.size()) ? class_names[c] : "class " + std::to_string(c), percent(iou[c]),
        pixels.str());
  }
  out << std::string(name_width + 2 + 8 + 12, '-') << "\n";
  row("mIoU", percent(confusion.mean_iou()), "");
  row("pixel acc", percent(confusion.pixel_accuracy()), "");
  for (const auto& [band, miou] : trimap_miou) row("trimap mIoU " + std::to_string(band) + "px", percent(miou), "");
  out << images << " images in " << std::fixed << std::setprecision(1) << seconds << " s\n";
  return out.str();
}

std::string EvaluationResult::json() const {
  // NaN (a class absent from labels and predictions) has no JSON spelling: null.
  auto number = [](double v) { return std::isnan(v) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v); };
  nlohmann::ordered_json j;  // keeps the summary numbers first, as written
  j["mean_iou"] = confusion.mean_iou();
  j["pixel_accuracy"] = confusion.pixel_accuracy();
  j["images"] = images;
  j["seconds"] = seconds;
  const std::vector<double> iou = confusion.class_iou();
  j["classes"] = nlohmann::ordered_json::array();
  for (int c = 0; c < confusion.num_classes(); ++c)
    j["classes"].push_back({{"id", c},
                            {"name", c < static_cast<int>(class_names.size()) ? class_names[c] : ""},
                            {"iou", number(iou[c])},
                            {"pixels", confusion.truth_pixels(c)}});
  j["trimap"] = nlohmann::ordered_json::array();
  for (const auto& [band, miou] : trimap_miou) j["trimap"].push_back({{"band", band}, {"mean_iou", miou}});
  nlohmann::ordered_json matrix = nlohmann::ordered_json::array();
  for (int t = 0; t < confusion.num_classes(); ++t) {
    nlohmann::ordered_json r = nlohmann::ordered_json::array();
    for (int p = 0; p < confusion.num_classes(); ++p) r.push_back(confusion.count(t, p));
    matrix.push_back(r);
  }
  j["confusion"] = matrix;  // rows: truth, columns: prediction
  return j.dump(2);
}

}  // namespace atrous
