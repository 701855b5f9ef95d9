// Coarse-to-fine CRF parameter search. Scores with a confusion matrix of its own (crf/ sits below eval/, whose
// metrics it may not use): per-class IoU over the whole subset, averaged over classes that occur.
#include "crf/crf_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include "core/error.h"
#include "crf/cuda_dense_crf.h"
#include "crf/dense_crf.h"

namespace atrous::crf {
namespace {

class Confusion {
 public:
  explicit Confusion(int classes) : classes_(classes), counts_(size_t(classes) * classes, 0) {}

  void add(const int32_t* predicted, const Tensor& labels, int ignore_index) {
    const Tensor truth = labels.to(DType::i32).contiguous();
    const int32_t* t = truth.data<int32_t>();
    for (int64_t i = 0; i < truth.numel(); ++i) {
      if (t[i] == ignore_index) continue;
      ATROUS_CHECK(t[i] >= 0 && t[i] < classes_, "crf search: ground-truth label ", t[i], " at pixel ", i,
                   " is outside [0, ", classes_, ") and not the ignore label ", ignore_index);
      ++counts_[size_t(t[i]) * classes_ + predicted[i]];
    }
  }

  double miou() const {
    double sum = 0.0;
    int present = 0;
    for (int c = 0; c < classes_; ++c) {
      int64_t tp = counts_[size_t(c) * classes_ + c], fp = 0, fn = 0;
      for (int k = 0; k < classes_; ++k) {
        if (k == c) continue;
        fn += counts_[size_t(c) * classes_ + k];
        fp += counts_[size_t(k) * classes_ + c];
      }
      if (tp + fp + fn == 0) continue;
      sum += double(tp) / double(tp + fp + fn);
      ++present;
    }
    return present ? sum / present : 0.0;
  }

  double pixel_accuracy() const {
    int64_t right = 0, all = 0;
    for (int c = 0; c < classes_; ++c)
      for (int k = 0; k < classes_; ++k) (c == k ? right : all) += counts_[size_t(c) * classes_ + k];
    all += right;
    return all ? double(right) / all : 0.0;
  }

 private:
  int classes_;
  std::vector<int64_t> counts_;
};

std::vector<int32_t> argmax(const float* scores, int64_t n, int classes, bool lowest) {
  std::vector<int32_t> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* s = scores + i * classes;
    x[i] = static_cast<int32_t>((lowest ? std::min_element(s, s + classes) : std::max_element(s, s + classes)) - s);
  }
  return x;
}

void check_grid(const CrfSearchGrid& g) {
  ATROUS_CHECK(g.size() > 0, "crf search: the grid is empty (w1: ", g.w1.size(), ", sigma_alpha: ", g.sa.size(),
               ", sigma_beta: ", g.sb.size(), " values)");
  for (const auto* values : {&g.w1, &g.sa, &g.sb})
    for (float v : *values)
      ATROUS_CHECK(std::isfinite(v) && v > 0.0f, "crf search: grid value ", v, " is not a positive number");
}

std::vector<float> range(float first, float last, float step) {
  std::vector<float> v;
  for (float x = first; x <= last + 1e-3f; x += step) v.push_back(x);
  return v;
}

std::vector<float> refine_axis(const std::vector<float>& values, float best) {
  if (values.size() < 2) return {best};
  std::vector<float> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  float step = INFINITY;
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i] > sorted[i - 1]) step = std::min(step, sorted[i] - sorted[i - 1]);
  if (!std::isfinite(step)) return {best};
  std::vector<float> out;
  for (float v : {best - step / 2, best, best + step / 2})
    if (v > 0.0f) out.push_back(v);
  return out;
}

}  // namespace

CrfSearchGrid CrfSearchGrid::deeplab_v2() { return {range(3, 6, 1), range(30, 100, 10), range(3, 6, 1)}; }
CrfSearchGrid CrfSearchGrid::deeplab_v1() { return {range(3, 6, 1), range(30, 100, 10), range(3, 10, 1)}; }

CrfSearchGrid refine_grid(const CrfSearchGrid& grid, const CrfSearchEntry& best) {
  return {refine_axis(grid.w1, best.w1), refine_axis(grid.sa, best.sa), refine_axis(grid.sb, best.sb)};
}

CrfSearchResult crf_search(const CrfSampleLoader& load, int64_t count, const CrfSearchOptions& options) {
  ATROUS_CHECK(count >= 1, "crf search: the validation subset is empty");
  ATROUS_CHECK(options.num_classes >= 1, "crf search: num_classes must be >= 1, got ", options.num_classes);
  ATROUS_CHECK(options.refine_rounds >= 0, "crf search: refine_rounds must be >= 0, got ", options.refine_rounds);
  check_grid(options.grid);
  options.base.validate(options.num_classes);
  const int classes = options.num_classes;

  CrfSearchResult result;
  result.images = count;
  std::set<std::tuple<float, float, float>> tried;
  CrfSearchGrid grid = options.grid;
  for (int round = 0; round <= options.refine_rounds; ++round) {
    // The settings of this round not tried before.
    std::vector<CrfSearchEntry> settings;
    for (float sa : grid.sa)
      for (float sb : grid.sb)
        for (float w1 : grid.w1)
          if (tried.insert({w1, sa, sb}).second) settings.push_back({w1, sa, sb, round, 0, 0});
    if (settings.empty()) break;
    std::vector<Confusion> confusion(settings.size(), Confusion(classes));
    Confusion unary_confusion(classes);
    for (int64_t index = 0; index < count; ++index) {
      const CrfSearchSample s = load(index);
      ATROUS_CHECK(s.image.defined() && s.unary.defined() && s.labels.defined() && s.image.dim() == 3 &&
                       s.unary.dim() == 3 && s.labels.dim() == 2 && s.unary.size(2) == classes &&
                       s.unary.size(0) == s.image.size(0) && s.unary.size(1) == s.image.size(1) &&
                       s.labels.size(0) == s.image.size(0) && s.labels.size(1) == s.image.size(1),
                   "crf search: sample ", index, " has image ",
                   s.image.defined() ? s.image.description() : std::string("(none)"), ", scores ",
                   s.unary.defined() ? s.unary.description() : std::string("(none)"), " and labels ",
                   s.labels.defined() ? s.labels.description() : std::string("(none)"), "; expected [H,W,3], [H,W,",
                   classes, "] and [H,W]");
      const int64_t h = s.image.size(0), w = s.image.size(1);
      const Tensor unary = s.unary.contiguous();
      if (round == 0)
        unary_confusion.add(argmax(unary.data<float>(), h * w, classes, true).data(), s.labels, options.ignore_index);
      std::shared_ptr<const PairwiseKernel> spatial;
      if (options.base.gaussian_weight > 0.0f && options.device < 0)
        spatial = make_gaussian_kernel(h, w, options.base.gaussian_xy, options.base.normalization);
      std::shared_ptr<const PairwiseKernel> bilateral;
      for (size_t k = 0; k < settings.size(); ++k) {
        const CrfSearchEntry& e = settings[k];
        Tensor q;
        if (options.device >= 0) {
          DenseCrfParams params = options.base;
          params.bilateral_weight = e.w1;
          params.bilateral_xy = e.sa;
          params.bilateral_rgb = e.sb;
          q = cuda::dense_crf_cuda(s.image, unary, params, options.device);
        } else {
          if (!bilateral || k == 0 || settings[k - 1].sa != e.sa || settings[k - 1].sb != e.sb)
            bilateral = make_bilateral_kernel(s.image, e.sa, e.sb, options.base.normalization);
          DenseCrf model(h, w, classes);
          if (spatial) model.add_pairwise(spatial, options.base.gaussian_weight);
          model.add_pairwise(bilateral, e.w1);
          q = model.mean_field(unary, options.base.iterations);
        }
        confusion[k].add(argmax(q.data<float>(), h * w, classes, false).data(), s.labels, options.ignore_index);
      }
      if (options.progress) {
        std::ostringstream line;
        line << "round " << round << ": image " << index + 1 << "/" << count << ", " << settings.size() << " settings";
        options.progress(line.str());
      }
    }
    if (round == 0) {
      result.unary_miou = unary_confusion.miou();
      result.unary_pixel_accuracy = unary_confusion.pixel_accuracy();
    }
    for (size_t k = 0; k < settings.size(); ++k) {
      settings[k].miou = confusion[k].miou();
      settings[k].pixel_accuracy = confusion[k].pixel_accuracy();
      result.table.push_back(settings[k]);
      if (result.table.size() == 1 || settings[k].miou > result.best.miou) result.best = settings[k];
    }
    grid = refine_grid(grid, result.best);
  }
  return result;
}

std::string CrfSearchResult::str() const {
  std::vector<CrfSearchEntry> sorted = table;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const CrfSearchEntry& a, const CrfSearchEntry& b) { return a.miou > b.miou; });
  std::ostringstream out;
  char line[320];
  std::snprintf(line, sizeof(line), "%8s %8s %8s %6s %9s %9s\n", "w1", "sigma_a", "sigma_b", "round", "mIoU",
                "pix.acc");
  out << line;
  for (const CrfSearchEntry& e : sorted) {
    std::snprintf(line, sizeof(line), "%8.3g %8.4g %8.4g %6d %8.2f%% %8.2f%%\n", e.w1, e.sa, e.sb, e.round,
                  100 * e.miou, 100 * e.pixel_accuracy);
    out << line;
  }
  std::snprintf(line, sizeof(line), "without CRF: mIoU %.2f%%, pixel accuracy %.2f%% (%lld images)\n", 100 * unary_miou,
                100 * unary_pixel_accuracy, static_cast<long long>(images));
  out << line;
  std::snprintf(line, sizeof(line),
                "best: w1=%g sigma_alpha=%g sigma_beta=%g: mIoU %.2f%% (%+.2f); use --bilateral-weight %g "
                "--bilateral-xy %g --bilateral-rgb %g\n",
                best.w1, best.sa, best.sb, 100 * best.miou, 100 * (best.miou - unary_miou), best.w1, best.sa, best.sb);
  out << line;
  return out.str();
}

}  // namespace atrous::crf
