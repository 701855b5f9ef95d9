// `atrous crf-search`: cross-validates the CRF's w1, sigma_alpha and sigma_beta on a validation subset (images,
// their class scores as .npy and their label PNGs), coarse to fine as DeepLab did; prints the table and the best.
// --device cuda runs every setting's mean field on the GPU.
#include "crf/crf_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/crf_options.h"
#include "cli/device_option.h"
#include "core/npy.h"
#include "crf/dense_crf.h"
#include "data/image_io.h"

namespace atrous::cli {
namespace {

namespace fs = std::filesystem;

struct CrfSearchCliOptions {
  std::string images, scores, labels, ids_file, kind = "logits", grid = "deeplab-v2", device = "cpu";
  int64_t limit = 100;
  int ignore = 255;
  int refine_rounds = 1;
  std::vector<float> w1, sa, sb;
  CrfFlags crf;
};

std::vector<std::string> read_ids(const CrfSearchCliOptions& o) {
  std::vector<std::string> ids;
  if (!o.ids_file.empty()) {
    std::ifstream in(o.ids_file);
    ATROUS_CHECK(in, "crf-search: cannot read the id list '", o.ids_file, "'");
    for (std::string line; std::getline(in, line);) {
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (!line.empty()) ids.push_back(line.substr(0, line.find_first_of(" \t")));
    }
  } else {
    for (const auto& entry : fs::directory_iterator(o.scores))
      if (entry.path().extension() == ".npy") ids.push_back(entry.path().stem().string());
    std::sort(ids.begin(), ids.end());
  }
  if (o.limit > 0 && static_cast<int64_t>(ids.size()) > o.limit) ids.resize(static_cast<size_t>(o.limit));
  ATROUS_CHECK(!ids.empty(), "crf-search: no samples (",
               o.ids_file.empty() ? "no .npy files in '" + o.scores + "'" : "'" + o.ids_file + "' is empty", ")");
  return ids;
}

std::string find_image(const std::string& dir, const std::string& id) {
  for (const char* ext : {".jpg", ".png", ".jpeg", ".JPG", ".PNG"}) {
    const fs::path p = fs::path(dir) / (id + ext);
    if (fs::exists(p)) return p.string();
  }
  ATROUS_FAIL("crf-search: no image for '", id, "' in '", dir, "' (tried .jpg, .png, .jpeg)");
}

crf::CrfSearchSample load_sample(const CrfSearchCliOptions& o, const std::string& id) {
  crf::CrfSearchSample s;
  s.image = read_image_rgb(find_image(o.images, id));
  const std::string path = (fs::path(o.scores) / (id + ".npy")).string();
  Tensor scores = load_npy(path);
  if (scores.dtype() == DType::f64) scores = scores.to(DType::f32);
  ATROUS_CHECK(scores.dtype() == DType::f32 && scores.dim() == 3 && scores.size(0) == s.image.size(0) &&
                   scores.size(1) == s.image.size(1),
               "crf-search: '", path, "' holds ", scores.description(), "; expected ", s.image.size(0), " x ",
               s.image.size(1), " x C float32 like its image");
  try {
    s.unary = o.kind == "probs" ? crf::unary_from_probabilities(scores) : crf::unary_from_logits(scores);
  } catch (const Error& e) {
    ATROUS_FAIL("crf-search: '", path, "': ", e.what());
  }
  s.labels = read_label_png((fs::path(o.labels) / (id + ".png")).string());
  return s;
}

void run_crf_search(const CrfSearchCliOptions& o) {
  const Device device = device_option_value(o.device);
  ATROUS_CHECK(o.kind == "logits" || o.kind == "probs", "crf-search: --scores-kind must be logits or probs, got '",
               o.kind, "'");
  const std::vector<std::string> ids = read_ids(o);
  crf::CrfSearchOptions options;
  ATROUS_CHECK(o.grid == "deeplab-v2" || o.grid == "deeplab-v1",
               "crf-search: --grid must be deeplab-v2 or deeplab-v1, got '", o.grid, "'");
  options.grid = o.grid == "deeplab-v1" ? crf::CrfSearchGrid::deeplab_v1() : crf::CrfSearchGrid::deeplab_v2();
  if (!o.w1.empty()) options.grid.w1 = o.w1;
  if (!o.sa.empty()) options.grid.sa = o.sa;
  if (!o.sb.empty()) options.grid.sb = o.sb;
  options.refine_rounds = o.refine_rounds;
  options.ignore_index = o.ignore;
  options.base = o.crf.resolve("deeplab-v1-largefov");
  options.progress = [](const std::string& line) { std::fprintf(stderr, "\r%s   ", line.c_str()); };
  const crf::CrfSearchSample first = load_sample(o, ids[0]);
  options.num_classes = static_cast<int>(first.unary.size(2));
  std::printf(
      "crf-search: %zu images, %d classes, first grid %lld settings (w2=%g sigma_gamma=%g, %d iterations, "
      "%s normalisation), %d refinement round(s), on %s\n",
      ids.size(), options.num_classes, static_cast<long long>(options.grid.size()), options.base.gaussian_weight,
      options.base.gaussian_xy, options.base.iterations, crf::normalization_name(options.base.normalization),
      options.refine_rounds, device.str().c_str());
  const crf::CrfSampleLoader load = [&](int64_t i) {
    return i == 0 ? first : load_sample(o, ids[static_cast<size_t>(i)]);
  };
  const int64_t count = static_cast<int64_t>(ids.size());
  options.device = device.is_cuda() ? device.index : -1;
  const crf::CrfSearchResult result = crf::crf_search(load, count, options);
  std::fprintf(stderr, "\n");
  std::printf("%s", result.str().c_str());
}

}  // namespace

void register_crf_search(CLI::App& app) {
  auto o = std::make_shared<CrfSearchCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "crf-search", "Cross-validate the CRF's w1, sigma_alpha, sigma_beta on a validation subset, coarse to fine");
  cmd->add_option("--images", o->images, "folder of images <id>.jpg/.png")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--scores", o->scores,
                  "folder of class scores <id>.npy (H x W x C float32, e.g. segment --save-logits)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--labels", o->labels, "folder of ground-truth label PNGs <id>.png (class ids, 255 ignored)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--scores-kind", o->kind, "the .npy files hold logits or probs")->capture_default_str();
  cmd->add_option("--ids", o->ids_file, "file with one id per line (default: every .npy in --scores, sorted)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--limit", o->limit, "use the first N ids (0: all; DeepLab used 100 val images)")
      ->capture_default_str();
  cmd->add_option("--ignore", o->ignore, "label ignored in the scores")->capture_default_str();
  cmd->add_option("--grid", o->grid,
                  "first-round grid: deeplab-v2 (w1 3..6, sigma_alpha 30..100 step 10, sigma_beta 3..6) or "
                  "deeplab-v1 (sigma_beta 3..10)")
      ->capture_default_str();
  cmd->add_option("--w1", o->w1, "w1 values of the first round (replaces the grid's)");
  cmd->add_option("--sa", o->sa, "sigma_alpha values of the first round");
  cmd->add_option("--sb", o->sb, "sigma_beta values of the first round");
  cmd->add_option("--refine-rounds", o->refine_rounds, "finer rounds around the best (half the step each)")
      ->capture_default_str();
  add_device_option(cmd, o->device, "every setting's mean field");
  add_crf_flags(cmd, o->crf);
  cmd->callback([o] { run_crf_search(*o); });
}

}  // namespace atrous::cli
