// Side-by-side driver for benchmarks/peers/compare_densecrf.py: one image and its class scores through our dense CRF (on one
// thread and on all) and through Kraehenbuehl's densecrf built by the user, with the same parameters; prints one
// JSON line with the times and how far the label maps agree. Compiled by the script against the user's densecrf
// (DENSECRF_API 2: the 2.x release with Eigen matrices; 1: the 2011 release DeepLab's Caffe forked).
//
//   compare_densecrf IMAGE SCORES.npy logits|probs W1 SIGMA_ALPHA SIGMA_BETA W2 SIGMA_GAMMA ITERATIONS NORMALIZATION
//                    [--size WIDTHxHEIGHT] [--repeats N] [--only ours|densecrf]
// IMAGE may be synthetic:WIDTHxHEIGHTxLABELS (benchmarks/crf_inputs.h; SCORES is then ignored). --size resizes the
// image and the scores bilinearly first (e.g. 2048x1024 to time a photo at Cityscapes size). Each of the N repeats
// times ours on one thread, ours on every thread and densecrf in turn (after one warm-up run of each), so that a
// shared machine's slow spells fall on all three alike; the medians are reported. --only runs one side once, for
// its peak memory (max RSS, in the output).
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "benchmarks/crf_inputs.h"
#include "core/npy.h"
#include "core/ops/resize.h"
#include "crf/dense_crf.h"
#include "data/image_io.h"
#include "densecrf.h"

using namespace atrous;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::vector<int> argmax(const float* values, int64_t n, int labels, bool lowest) {
  std::vector<int> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int best = 0;
    for (int l = 1; l < labels; ++l) {
      const float v = values[i * labels + l], b = values[i * labels + best];
      if (lowest ? v < b : v > b) best = l;
    }
    x[i] = best;
  }
  return x;
}

// Bilinear resize of an f32 [H,W,C] map (half-pixel centres).
Tensor resize_scores(const Tensor& scores, int height, int width) {
  const Tensor x = scores.contiguous();
  return resize_bilinear(x.reshape({1, x.size(0), x.size(1), x.size(2)}),
                         ResizeParams::to_size(height, width, /*align_corners=*/false))
      .reshape({height, width, x.size(2)});
}

Tensor resize_image(const Tensor& rgb, int height, int width) {
  const Tensor resized = resize_scores(rgb.to(DType::f32), height, width);
  Tensor out = Tensor::empty({height, width, 3}, DType::u8);
  const float* src = resized.data<float>();
  uint8_t* dst = out.data<uint8_t>();
  for (int64_t k = 0; k < out.numel(); ++k) dst[k] = static_cast<uint8_t>(std::clamp(std::lround(src[k]), 0L, 255L));
  return out;
}

// densecrf on the same unary (n x labels, pixel-major energies) and RGB image; returns its labels.
std::vector<int> run_densecrf(const float* unary, const uint8_t* rgb, int width, int height, int labels,
                              const crf::DenseCrfParams& p) {
  const int n = width * height;
#if DENSECRF_API == 2
  DenseCRF2D model(width, height, labels);
  Eigen::MatrixXf u(labels, n);
  for (int i = 0; i < n; ++i)
    for (int l = 0; l < labels; ++l) u(l, i) = unary[int64_t(i) * labels + l];
  model.setUnaryEnergy(u);
  NormalizationType norm = NORMALIZE_SYMMETRIC;
  if (p.normalization == crf::KernelNormalization::after) norm = NORMALIZE_AFTER;
  if (p.normalization == crf::KernelNormalization::before) norm = NORMALIZE_BEFORE;
  if (p.normalization == crf::KernelNormalization::none) norm = NO_NORMALIZATION;
  if (p.gaussian_weight > 0)
    model.addPairwiseGaussian(p.gaussian_xy, p.gaussian_xy, new PottsCompatibility(p.gaussian_weight), DIAG_KERNEL,
                              norm);
  if (p.bilateral_weight > 0)
    model.addPairwiseBilateral(p.bilateral_xy, p.bilateral_xy, p.bilateral_rgb, p.bilateral_rgb, p.bilateral_rgb, rgb,
                               new PottsCompatibility(p.bilateral_weight), DIAG_KERNEL, norm);
  const Eigen::MatrixXf q = model.inference(p.iterations);
  std::vector<int> x(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) q.col(i).maxCoeff(&x[i]);
  return x;
#else
  // The 2011 API normalises every kernel "after" (D^-1 K); the script runs ours the same way.
  DenseCRF2D model(width, height, labels);
  model.setUnaryEnergy(unary);
  if (p.gaussian_weight > 0) model.addPairwiseGaussian(p.gaussian_xy, p.gaussian_xy, p.gaussian_weight);
  if (p.bilateral_weight > 0)
    model.addPairwiseBilateral(p.bilateral_xy, p.bilateral_xy, p.bilateral_rgb, p.bilateral_rgb, p.bilateral_rgb, rgb,
                               p.bilateral_weight);
  std::vector<short> map(static_cast<size_t>(n));
  model.map(p.iterations, map.data());
  return std::vector<int>(map.begin(), map.end());
#endif
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 11) {
    std::fprintf(stderr,
                 "usage: %s IMAGE|synthetic:WxHxL SCORES.npy logits|probs W1 SIGMA_ALPHA SIGMA_BETA W2 SIGMA_GAMMA "
                 "ITERATIONS NORMALIZATION [--size WIDTHxHEIGHT] [--repeats N] [--only ours|densecrf]\n",
                 argv[0]);
    return 2;
  }
  try {
    std::string size, only;
    int repeats = 3;
    for (int k = 11; k < argc; k += 2) {
      const std::string flag = argv[k];
      if (k + 1 >= argc) throw std::runtime_error("option " + flag + " needs a value");
      if (flag == "--size") {
        size = argv[k + 1];
      } else if (flag == "--repeats") {
        repeats = std::stoi(argv[k + 1]);
      } else if (flag == "--only") {
        only = argv[k + 1];
        if (only != "ours" && only != "densecrf") throw std::runtime_error("--only takes ours or densecrf");
      } else {
        throw std::runtime_error("unknown option " + flag);
      }
    }
    if (repeats < 1) throw std::runtime_error("--repeats must be at least 1");
    Tensor image, unary;
    const std::string source = argv[1];
    if (source.rfind("synthetic:", 0) == 0) {
      int width = 0, height = 0, labels = 0;
      if (std::sscanf(source.c_str() + 10, "%dx%dx%d", &width, &height, &labels) != 3 || width < 1 || height < 1 ||
          labels < 1)
        throw std::runtime_error("bad synthetic input '" + source + "' (want synthetic:WIDTHxHEIGHTxLABELS)");
      CrfInputs in = synthetic_crf_inputs(height, width, labels);
      image = in.image;
      unary = in.unary;
    } else {
      image = read_image_rgb(argv[1]);
      Tensor scores = load_npy(argv[2]);
      if (scores.dtype() == DType::f64) scores = scores.to(DType::f32);
      if (!size.empty()) {
        int width = 0, height = 0;
        if (std::sscanf(size.c_str(), "%dx%d", &width, &height) != 2 || width < 1 || height < 1)
          throw std::runtime_error("bad size '" + size + "' (want WIDTHxHEIGHT)");
        image = resize_image(image, height, width);
        scores = resize_scores(scores, height, width);
      }
      const std::string kind = argv[3];
      unary = kind == "probs" ? crf::unary_from_probabilities(scores) : crf::unary_from_logits(scores);
    }
    crf::DenseCrfParams p;
    p.bilateral_weight = std::stof(argv[4]);
    p.bilateral_xy = std::stof(argv[5]);
    p.bilateral_rgb = std::stof(argv[6]);
    p.gaussian_weight = std::stof(argv[7]);
    p.gaussian_xy = std::stof(argv[8]);
    p.iterations = std::stoi(argv[9]);
    p.normalization = crf::normalization_by_name(argv[10]);
    const int height = static_cast<int>(image.size(0)), width = static_cast<int>(image.size(1));
    const int labels = static_cast<int>(unary.size(2));
    const int64_t n = int64_t(height) * width;

    const int threads = omp_get_max_threads();
    if (!only.empty()) {  // one side, once: its peak memory
      omp_set_num_threads(1);
      if (only == "ours") {
        crf::dense_crf_inference(image, unary, p);
      } else {
        run_densecrf(unary.data<float>(), image.data<uint8_t>(), width, height, labels, p);
      }
      rusage usage{};
      getrusage(RUSAGE_SELF, &usage);
      std::printf("{\"only\": \"%s\", \"max_rss_mb\": %.1f}\n", only.c_str(), usage.ru_maxrss / 1024.0);
      return 0;
    }

    // Ours, single-threaded (densecrf's setting) and on every thread, and densecrf, in turn; each run of ours
    // includes building the lattices, as densecrf's includes building its own.
    const auto ours_on = [&](int t) {
      omp_set_num_threads(t);
      return crf::dense_crf_inference(image, unary, p);
    };
    const auto theirs_run = [&] { return run_densecrf(unary.data<float>(), image.data<uint8_t>(), width, height, labels, p); };
    const crf::DenseCrfResult ours = ours_on(1);  // warm-ups: caches, allocators
    ours_on(threads);
    const std::vector<int> theirs = theirs_run();
    std::vector<double> ours_1t_s, ours_all_s, theirs_s;
    for (int r = 0; r < repeats; ++r) {
      auto start = std::chrono::steady_clock::now();
      ours_on(1);
      ours_1t_s.push_back(seconds_since(start));
      start = std::chrono::steady_clock::now();
      ours_on(threads);
      ours_all_s.push_back(seconds_since(start));
      start = std::chrono::steady_clock::now();
      theirs_run();
      theirs_s.push_back(seconds_since(start));
    }
    const double ours_1t = median(ours_1t_s), ours_all = median(ours_all_s), theirs_median = median(theirs_s);

    const std::vector<int> before = argmax(unary.data<float>(), n, labels, /*lowest=*/true);
    const int32_t* x = ours.labels.data<int32_t>();
    int64_t agree = 0, changed = 0, agree_changed = 0, changed_ours = 0, changed_theirs = 0;
    for (int64_t i = 0; i < n; ++i) {
      const bool same = x[i] == theirs[i];
      agree += same;
      changed_ours += x[i] != before[i];
      changed_theirs += theirs[i] != before[i];
      if (x[i] != before[i] || theirs[i] != before[i]) {
        ++changed;
        agree_changed += same;
      }
    }
    std::printf(
        "{\"image\": \"%s\", \"width\": %d, \"height\": %d, \"labels\": %d, \"threads\": %d, \"ours_1t_s\": %.6f, "
        "\"ours_s\": %.6f, \"densecrf_s\": %.6f, \"pixels\": %lld, \"agree\": %lld, \"changed\": %lld, "
        "\"agree_changed\": %lld, \"changed_ours\": %lld, \"changed_densecrf\": %lld, \"repeats\": %d}\n",
        argv[1], width, height, labels, threads, ours_1t, ours_all, theirs_median, static_cast<long long>(n),
        static_cast<long long>(agree), static_cast<long long>(changed), static_cast<long long>(agree_changed),
        static_cast<long long>(changed_ours), static_cast<long long>(changed_theirs), repeats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
