// Dense CRF: mean field against a naive O(n^2) reference written from the paper's equations (exact kernels, full
// Potts/matrix sums, double), the lattice against that exact mean field, the fused lattice mean field against
// filtering whole images and updating (every row width, threads), KL/energy, invariances (constant image,
// zero weights), improvement on a noisy synthetic segmentation, presets, and bad input.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "core/random.h"
#include "crf/dense_crf.h"
#include "crf/host_array.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::crf;

namespace {

// A two-region image (disc on a background) with mild noise, u8 [H,W,3].
Tensor disc_image(int h, int w, uint32_t seed, bool constant = false) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0f, 6.0f);
  Tensor img = Tensor::empty({h, w, 3}, DType::u8);
  uint8_t* p = img.data<uint8_t>();
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const bool inside = (x - w / 2) * (x - w / 2) + (y - h / 2) * (y - h / 2) < (h * h) / 8;
      const float base[3] = {inside ? 210.0f : 40.0f, inside ? 70.0f : 150.0f, inside ? 60.0f : 90.0f};
      for (int c = 0; c < 3; ++c) {
        const float v = constant ? 100.0f : base[c] + noise(gen);
        p[(y * w + x) * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
      }
    }
  }
  return img;
}

// Ground truth of disc_image: 1 inside, 0 outside.
std::vector<int> disc_truth(int h, int w) {
  std::vector<int> t(h * w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) t[y * w + x] = (x - w / 2) * (x - w / 2) + (y - h / 2) * (y - h / 2) < (h * h) / 8;
  return t;
}

// Probabilities that favour the truth at most pixels but are wrong at `flip` of them, [H,W,L] f32.
Tensor noisy_probabilities(const std::vector<int>& truth, int h, int w, int labels, double flip, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Tensor probs = Tensor::empty({h, w, labels});
  float* p = probs.data<float>();
  for (int i = 0; i < h * w; ++i) {
    const int favoured = u(gen) < flip ? (truth[i] + 1 + static_cast<int>(u(gen) * (labels - 1))) % labels : truth[i];
    double sum = 0.0;
    for (int l = 0; l < labels; ++l) {
      p[i * labels + l] = (l == favoured ? 1.5f : 0.0f) + u(gen);
      sum += p[i * labels + l];
    }
    for (int l = 0; l < labels; ++l) p[i * labels + l] = static_cast<float>(p[i * labels + l] / sum);
  }
  return probs;
}

std::vector<int> argmax_labels(const Tensor& q) {
  const int64_t labels = q.size(2), n = q.size(0) * q.size(1);
  const float* p = q.data<float>();
  std::vector<int> x(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = static_cast<int>(std::max_element(p + i * labels, p + (i + 1) * labels) - (p + i * labels));
  return x;
}

double agreement(const std::vector<int>& a, const std::vector<int>& b) {
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return double(same) / a.size();
}

// ---- the naive reference: paper eq. 3-4 with explicit n x n kernels in double ----
struct NaiveTerm {
  std::vector<double> kn;  // n x n normalised kernel
  double weight;
  std::vector<double> mu;  // L x L
};

std::vector<double> naive_kernel(const Tensor& image, bool bilateral, double sxy, double srgb,
                                 KernelNormalization norm) {
  const int64_t h = image.size(0), w = image.size(1), n = h * w;
  const uint8_t* rgb = image.data<uint8_t>();
  std::vector<double> k(n * n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const double dx = double(i % w) - double(j % w), dy = double(i / w) - double(j / w);
      double e = (dx * dx + dy * dy) / (2 * sxy * sxy);
      if (bilateral)
        for (int c = 0; c < 3; ++c) {
          const double dc = double(rgb[i * 3 + c]) - rgb[j * 3 + c];
          e += dc * dc / (2 * srgb * srgb);
        }
      k[i * n + j] = std::exp(-e);
    }
  }
  std::vector<double> deg(n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) deg[i] += k[i * n + j];
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double& v = k[i * n + j];
      if (norm == KernelNormalization::symmetric) v /= std::sqrt(deg[i] * deg[j]);
      if (norm == KernelNormalization::after) v /= deg[i];
      if (norm == KernelNormalization::before) v /= deg[j];
    }
  }
  return k;
}

std::vector<double> potts(int labels) {
  std::vector<double> mu(labels * labels);
  for (int l = 0; l < labels; ++l)
    for (int m = 0; m < labels; ++m) mu[l * labels + m] = l != m;
  return mu;
}

// m_i(l) = sum_k w_k sum_l' mu_k(l,l') sum_j kn_k(i,j) q_j(l')
std::vector<double> naive_messages(const std::vector<NaiveTerm>& terms, const std::vector<double>& q, int64_t n,
                                   int labels) {
  std::vector<double> m(n * labels, 0.0);
  for (const NaiveTerm& t : terms) {
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> kq(labels, 0.0);
      for (int64_t j = 0; j < n; ++j)
        for (int l = 0; l < labels; ++l) kq[l] += t.kn[i * n + j] * q[j * labels + l];
      for (int l = 0; l < labels; ++l)
        for (int l2 = 0; l2 < labels; ++l2) m[i * labels + l] += t.weight * t.mu[l * labels + l2] * kq[l2];
    }
  }
  return m;
}

std::vector<double> naive_mean_field(const std::vector<NaiveTerm>& terms, const Tensor& unary, int iterations) {
  const int64_t n = unary.size(0) * unary.size(1);
  const int labels = static_cast<int>(unary.size(2));
  const float* u = unary.data<float>();
  std::vector<double> q(n * labels), m(n * labels, 0.0);
  for (int it = 0; it <= iterations; ++it) {
    if (it > 0) m = naive_messages(terms, q, n, labels);
    for (int64_t i = 0; i < n; ++i) {
      double top = -1e300, sum = 0.0;
      for (int l = 0; l < labels; ++l) top = std::max(top, -u[i * labels + l] - m[i * labels + l]);
      for (int l = 0; l < labels; ++l) sum += std::exp(-u[i * labels + l] - m[i * labels + l] - top);
      for (int l = 0; l < labels; ++l) q[i * labels + l] = std::exp(-u[i * labels + l] - m[i * labels + l] - top) / sum;
    }
  }
  return q;
}

double naive_kl(const std::vector<NaiveTerm>& terms, const Tensor& unary, const std::vector<double>& q) {
  const int64_t n = unary.size(0) * unary.size(1);
  const int labels = static_cast<int>(unary.size(2));
  const float* u = unary.data<float>();
  const std::vector<double> m = naive_messages(terms, q, n, labels);
  double kl = 0.0;
  for (int64_t k = 0; k < n * labels; ++k)
    kl += (q[k] > 0 ? q[k] * std::log(q[k]) : 0.0) + q[k] * u[k] + 0.5 * q[k] * m[k];
  return kl;
}

DenseCrfParams tiny_params() {
  DenseCrfParams p;
  p.bilateral_weight = 5.0f;
  p.bilateral_xy = 4.0f;
  p.bilateral_rgb = 20.0f;
  p.gaussian_weight = 3.0f;
  p.gaussian_xy = 1.5f;
  p.iterations = 5;
  return p;
}

}  // namespace

TEST(DenseCrf, ExactMeanFieldMatchesNaiveReference) {
  const int h = 7, w = 9, labels = 3;
  const Tensor image = disc_image(h, w, 1);
  const Tensor unary = unary_from_probabilities(noisy_probabilities(disc_truth(h, w), h, w, labels, 0.3, 2));
  for (KernelNormalization norm : {KernelNormalization::symmetric, KernelNormalization::after,
                                   KernelNormalization::before, KernelNormalization::none}) {
    for (bool matrix : {false, true}) {
      DenseCrfParams p = tiny_params();
      p.method = FilterMethod::exact;
      p.normalization = norm;
      // A non-Potts compatibility: neighbouring labels cost less than distant ones.
      const std::vector<float> mu = {0.0f, 0.5f, 1.5f, 0.5f, 0.0f, 0.7f, 1.5f, 0.7f, 0.0f};
      if (matrix) p.bilateral_compatibility = mu;
      if (norm == KernelNormalization::none)
        p.bilateral_weight = 0.05f, p.gaussian_weight = 0.1f;  // raw sums are large
      const DenseCrf crf = make_dense_crf(image, labels, p);
      const Tensor q = crf.mean_field(unary, p.iterations);

      std::vector<NaiveTerm> terms;
      terms.push_back({naive_kernel(image, false, p.gaussian_xy, 0, norm), p.gaussian_weight, potts(labels)});
      terms.push_back({naive_kernel(image, true, p.bilateral_xy, p.bilateral_rgb, norm), p.bilateral_weight,
                       matrix ? std::vector<double>(mu.begin(), mu.end()) : potts(labels)});
      const std::vector<double> expected = naive_mean_field(terms, unary, p.iterations);
      const float* got = q.data<float>();
      for (int64_t k = 0; k < h * w * labels; ++k)
        ASSERT_NEAR(got[k], expected[k], 2e-5) << normalization_name(norm) << (matrix ? " matrix" : " potts");
      const double kl = crf.kl_divergence(unary, q), kl_ref = naive_kl(terms, unary, expected);
      EXPECT_NEAR(kl, kl_ref, 1e-4 * std::fabs(kl_ref)) << normalization_name(norm);
      // The energy of a labelling is the KL formula at a one-hot Q without the entropy.
      const std::vector<int> x = argmax_labels(q);
      Tensor x_tensor = Tensor::from_vector(x, {h, w});
      std::vector<double> onehot(h * w * labels, 0.0);
      for (int i = 0; i < h * w; ++i) onehot[i * labels + x[i]] = 1.0;
      EXPECT_NEAR(crf.energy(unary, x_tensor), naive_kl(terms, unary, onehot),
                  1e-4 * std::fabs(naive_kl(terms, unary, onehot)));
    }
  }
}

TEST(DenseCrf, LatticeMeanFieldAgreesWithExactMeanField) {
  // Weak pairwise weights and very noisy unaries keep the marginals soft, so differences would show.
  const int h = 28, w = 30, labels = 4;
  const Tensor image = disc_image(h, w, 3);
  const Tensor unary = unary_from_probabilities(noisy_probabilities(disc_truth(h, w), h, w, labels, 0.45, 4));
  DenseCrfParams p = tiny_params();
  p.bilateral_xy = 8.0f;
  p.bilateral_weight = 1.5f;
  p.gaussian_weight = 1.0f;
  p.iterations = 10;
  const Tensor q_lattice = make_dense_crf(image, labels, p).mean_field(unary, p.iterations);
  p.method = FilterMethod::exact;
  const Tensor q_exact = make_dense_crf(image, labels, p).mean_field(unary, p.iterations);
  const std::vector<int> x_exact = argmax_labels(q_exact);
  const double agree = agreement(argmax_labels(q_lattice), x_exact);
  double mean_abs = 0.0, max_abs = 0.0;
  for (int64_t k = 0; k < h * w * labels; ++k) {
    const double diff = std::fabs(q_lattice.data<float>()[k] - q_exact.data<float>()[k]);
    mean_abs += diff, max_abs = std::max(max_abs, diff);
  }
  mean_abs /= h * w * labels;
  std::printf("lattice vs exact mean field: label agreement %.4f, mean |dQ| %.4f, max %.4f; unary agreement %.4f\n",
              agree, mean_abs, max_abs, agreement(argmax_labels(unary * -1.0), x_exact));
  EXPECT_GE(agree, 0.98);
  EXPECT_LT(mean_abs, 0.01);
  EXPECT_LT(max_abs, 0.1);
}

TEST(DenseCrf, MeanFieldLowersKlAndCleansNoise) {
  const int h = 60, w = 64, labels = 3;
  const Tensor image = disc_image(h, w, 5);
  const std::vector<int> truth = disc_truth(h, w);
  const Tensor probs = noisy_probabilities(truth, h, w, labels, 0.3, 6);
  const Tensor unary = unary_from_probabilities(probs);
  DenseCrfParams p = tiny_params();
  p.bilateral_xy = 20.0f;
  const DenseCrf crf = make_dense_crf(image, labels, p);
  const Tensor q0 = crf.mean_field(unary, 0), q10 = crf.mean_field(unary, 10);
  EXPECT_LT(crf.kl_divergence(unary, q10), crf.kl_divergence(unary, q0));
  const double before = agreement(argmax_labels(probs), truth), after = agreement(argmax_labels(q10), truth);
  std::printf("pixel accuracy before CRF %.4f, after %.4f\n", before, after);
  EXPECT_LT(before, 0.8);
  EXPECT_GT(after, 0.97);
  // And the labelling's energy drops.
  EXPECT_LT(crf.energy(unary, Tensor::from_vector(argmax_labels(q10), {h, w})),
            crf.energy(unary, Tensor::from_vector(argmax_labels(probs), {h, w})));
}

TEST(DenseCrf, ZeroWeightsGiveTheUnaryArgmax) {
  const int h = 30, w = 20, labels = 5;
  const Tensor image = disc_image(h, w, 7);
  const Tensor probs = noisy_probabilities(disc_truth(h, w), h, w, labels, 0.4, 8);
  DenseCrfParams p;
  p.bilateral_weight = 0.0f;
  p.gaussian_weight = 0.0f;
  const DenseCrfResult r = dense_crf_inference(image, unary_from_probabilities(probs), p);
  atrous::testing::expect_close(r.probabilities, probs, 1e-5);
  const std::vector<int> expected = argmax_labels(probs);
  const int32_t* got = r.labels.data<int32_t>();
  for (int i = 0; i < h * w; ++i) ASSERT_EQ(got[i], expected[i]);
}

// On a constant image the bilateral kernel only sees positions: it equals a spatial kernel of the same sigma_xy,
// whatever sigma_rgb is.
TEST(DenseCrf, ConstantImageIsSpatialSmoothingOnly) {
  const int h = 8, w = 9, labels = 3;
  const Tensor image = disc_image(h, w, 9, /*constant=*/true);
  const Tensor unary = unary_from_probabilities(noisy_probabilities(disc_truth(h, w), h, w, labels, 0.4, 10));
  DenseCrfParams bilateral = tiny_params();
  bilateral.method = FilterMethod::exact;
  bilateral.gaussian_weight = 0.0f;
  DenseCrfParams spatial = bilateral;
  spatial.bilateral_weight = 0.0f;
  spatial.gaussian_weight = bilateral.bilateral_weight;
  spatial.gaussian_xy = bilateral.bilateral_xy;
  const Tensor qb = make_dense_crf(image, labels, bilateral).mean_field(unary, 5);
  atrous::testing::expect_close(qb, make_dense_crf(image, labels, spatial).mean_field(unary, 5), 1e-5);
  bilateral.bilateral_rgb = 0.5f;
  atrous::testing::expect_close(qb, make_dense_crf(image, labels, bilateral).mean_field(unary, 5), 1e-5);

  // The lattice agrees approximately (its d = 5 and d = 2 lattices are different approximations).
  const int hl = 40, wl = 44;
  const Tensor flat = disc_image(hl, wl, 9, true);
  const Tensor u2 = unary_from_probabilities(noisy_probabilities(disc_truth(hl, wl), hl, wl, labels, 0.4, 11));
  bilateral.method = spatial.method = FilterMethod::lattice;
  const Tensor lb = make_dense_crf(flat, labels, bilateral).mean_field(u2, 5);
  const Tensor ls = make_dense_crf(flat, labels, spatial).mean_field(u2, 5);
  EXPECT_GE(agreement(argmax_labels(lb), argmax_labels(ls)), 0.97);
}

TEST(DenseCrf, LogitsAndProbabilitiesGiveTheSameUnaryUpToAConstant) {
  const int h = 5, w = 6, labels = 4;
  Generator gen(3);
  const Tensor logits = Tensor::randn({h, w, labels}, gen) * 3.0;
  const Tensor from_logits = unary_from_logits(logits);
  // -log softmax: exp(-u) sums to one per pixel.
  const float* u = from_logits.data<float>();
  std::vector<float> probs(h * w * labels);
  for (int i = 0; i < h * w; ++i) {
    double sum = 0.0;
    for (int l = 0; l < labels; ++l) sum += std::exp(-u[i * labels + l]);
    EXPECT_NEAR(sum, 1.0, 1e-5);
    for (int l = 0; l < labels; ++l) probs[i * labels + l] = std::exp(-u[i * labels + l]);
  }
  atrous::testing::expect_close(unary_from_probabilities(Tensor::from_vector(probs, {h, w, labels})), from_logits,
                                1e-4);
  const Tensor image = disc_image(h, w, 1);
  atrous::testing::expect_close(crf_refine_logits(image, logits),
                                crf_refine_probabilities(image, Tensor::from_vector(probs, {h, w, labels})), 1e-4);
}

TEST(DenseCrf, ThreadCountsAgree) {
  const int h = 70, w = 90, labels = 21;
  const Tensor image = disc_image(h, w, 12);
  const Tensor unary = unary_from_probabilities(noisy_probabilities(disc_truth(h, w), h, w, labels, 0.3, 13));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor one = dense_crf_inference(image, unary, {}).probabilities;
  omp_set_num_threads(2);
  const Tensor two = dense_crf_inference(image, unary, {}).probabilities;
  const Tensor again = dense_crf_inference(image, unary, {}).probabilities;
  omp_set_num_threads(saved);
  EXPECT_TRUE(atrous::testing::bitwise_equal(two, again));  // deterministic for a given thread count
  atrous::testing::expect_close(one, two, 1e-4);
}

// The mean field the slow way: Kn Q for each kernel by PermutohedralLattice::filter (PairwiseKernel::apply), then
// Q = softmax(-U + messages) in double. The fused, tiled, vectorised mean field must compute the same.
std::vector<double> filter_then_update_mean_field(const std::vector<std::shared_ptr<PairwiseKernel>>& kernels,
                                                  const std::vector<float>& weights,
                                                  const std::vector<std::vector<float>>& mu, const Tensor& unary,
                                                  int iterations) {
  const int64_t n = unary.size(0) * unary.size(1);
  const int labels = static_cast<int>(unary.size(2));
  const float* u = unary.data<float>();
  std::vector<double> q(n * labels);
  std::vector<float> qf(n * labels);
  HostArray<float> scratch;
  // Messages for every pixel first (the filter works on whole images), then the update.
  for (int it = 0; it <= iterations; ++it) {
    std::vector<std::vector<float>> messages;
    for (size_t k = 0; it > 0 && k < kernels.size(); ++k) {
      messages.emplace_back(n * labels);
      kernels[k]->apply(qf.data(), messages.back().data(), labels, scratch);
    }
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> e(labels);
      for (int l = 0; l < labels; ++l) e[l] = -u[i * labels + l];
      for (size_t k = 0; k < messages.size(); ++k) {
        const float* m = messages[k].data() + i * labels;
        for (int l = 0; l < labels; ++l) {
          if (mu[k].empty()) {
            e[l] += weights[k] * m[l];
          } else {
            double sum = 0.0;
            for (int l2 = 0; l2 < labels; ++l2) sum += mu[k][l * labels + l2] * m[l2];
            e[l] -= weights[k] * sum;
          }
        }
      }
      const double top = *std::max_element(e.begin(), e.end());
      double total = 0.0;
      for (int l = 0; l < labels; ++l) total += e[l] = std::exp(e[l] - top);
      for (int l = 0; l < labels; ++l) {
        q[i * labels + l] = e[l] / total;
        qf[i * labels + l] = static_cast<float>(q[i * labels + l]);
      }
    }
  }
  return q;
}

TEST(DenseCrf, FusedMeanFieldMatchesFilterThenUpdate) {
  // Not a multiple of the 64-pixel tiles; large enough for the threaded path (> 2^18 floats per pass) on 2 threads.
  const int h = 150, w = 203;
  const Tensor image = disc_image(h, w, 21);
  const int saved = omp_get_max_threads();
  for (int labels : {3, 11, 21, 30, 37}) {  // row widths 8, 16, 24, 32 and one read at run time (40)
    SCOPED_TRACE("labels " + std::to_string(labels));
    const Tensor unary = unary_from_probabilities(noisy_probabilities(disc_truth(h, w), h, w, labels, 0.3, 22));
    std::vector<float> mu(labels * labels);
    for (int l = 0; l < labels; ++l)
      for (int l2 = 0; l2 < labels; ++l2) mu[l * labels + l2] = l == l2 ? -0.5f : 0.2f + 0.05f * ((l + 2 * l2) % 5);
    const std::vector<std::shared_ptr<PairwiseKernel>> kernels = {
        make_gaussian_kernel(h, w, 3.0f, KernelNormalization::symmetric),
        make_bilateral_kernel(image, 30.0f, 13.0f, KernelNormalization::after)};
    const std::vector<float> weights = {3.0f, 5.0f};
    DenseCrf crf(h, w, labels);
    crf.add_pairwise(kernels[0], weights[0]);
    crf.add_pairwise(kernels[1], weights[1], LabelCompatibility::matrix(labels, mu));
    const std::vector<double> expected = filter_then_update_mean_field(kernels, weights, {{}, mu}, unary, 5);
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      const Tensor q = crf.mean_field(unary, 5);
      const float* got = q.data<float>();
      double worst = 0.0;
      for (size_t k = 0; k < expected.size(); ++k) worst = std::max(worst, std::abs(got[k] - expected[k]));
      EXPECT_LT(worst, 2e-4) << threads << " threads";
    }
  }
  omp_set_num_threads(saved);
}

TEST(DenseCrf, MeanFieldWithoutPairwiseTermsIsTheUnarySoftmax) {
  const int h = 9, w = 13, labels = 5;
  const Tensor unary = unary_from_probabilities(noisy_probabilities(disc_truth(h, w), h, w, labels, 0.3, 5));
  const Tensor q = DenseCrf(h, w, labels).mean_field(unary, 4);
  const float* u = unary.data<float>();
  const float* got = q.data<float>();
  for (int64_t i = 0; i < h * w; ++i) {
    double total = 0.0;
    for (int l = 0; l < labels; ++l) total += std::exp(-double(u[i * labels + l]));
    for (int l = 0; l < labels; ++l) EXPECT_NEAR(got[i * labels + l], std::exp(-double(u[i * labels + l])) / total, 1e-6);
  }
}

TEST(DenseCrf, PresetsAreNamedAndChecked) {
  EXPECT_EQ(crf_preset("deeplab-v1-largefov").params.bilateral_xy, 121.0f);
  EXPECT_EQ(crf_preset("deeplab-v2-resnet101").params.gaussian_xy, 1.0f);
  for (const CrfPreset& p : crf_presets().entries()) {
    EXPECT_NO_THROW(p.params.validate(21)) << p.name;
    EXPECT_FALSE(p.source.empty());
  }
  EXPECT_EQ(crf_preset_for_model("deeplab-v1-largefov").name, "deeplab-v1-largefov");
  EXPECT_EQ(crf_preset_for_model("deeplab-v2-resnet101-aspp").name, "deeplab-v2-resnet101");
  EXPECT_EQ(crf_preset_for_model("deeplab-v2-vgg16-aspp-l").name, "deeplab-v2-vgg16");
  atrous::testing::expect_error([] { crf_preset("nope"); }, {"unknown dense CRF preset 'nope'", "deeplab-v1-largefov"});
  EXPECT_EQ(DenseCrfParams{}.normalization, KernelNormalization::symmetric);  // densecrf's default
  atrous::testing::expect_error([] { normalization_by_name("sym"); }, {"'sym'", "symmetric"});
}

TEST(DenseCrf, BadInputIsAnError) {
  const int h = 6, w = 7, labels = 3;
  const Tensor image = disc_image(h, w, 1);
  const Tensor probs = noisy_probabilities(disc_truth(h, w), h, w, labels, 0.2, 2);
  const Tensor unary = unary_from_probabilities(probs);
  // Image and unary of different sizes.
  atrous::testing::expect_error([&] { dense_crf_inference(disc_image(h + 1, w, 1), unary, {}); },
                                {"f32[6,7,3]", "7x7"});
  atrous::testing::expect_error([&] { crf_refine_logits(disc_image(h, w + 2, 1), probs); }, {"logits", "6x9"});
  atrous::testing::expect_error([&] { crf_refine_logits(Tensor::zeros({h, w, 3}), probs); }, {"u8 [H,W,3]"});
  // NaN, negative and all-zero probabilities; non-finite logits.
  Tensor bad = probs.clone();
  bad.data<float>()[4] = std::nanf("");
  atrous::testing::expect_error([&] { unary_from_probabilities(bad); }, {"probability nan", "pixel (0, 1)"});
  bad.data<float>()[4] = -0.5f;
  atrous::testing::expect_error([&] { crf_refine_probabilities(image, bad); }, {"probability -0.5"});
  Tensor zeros = Tensor::zeros({h, w, labels});
  atrous::testing::expect_error([&] { unary_from_probabilities(zeros); }, {"every probability", "zero"});
  Tensor bad_logits = probs.clone();
  bad_logits.data<float>()[0] = INFINITY;
  atrous::testing::expect_error([&] { crf_refine_logits(image, bad_logits); }, {"logit inf"});
  // Zero, negative and NaN sigmas; negative weights; iterations; compatibility sizes.
  for (float sigma : {0.0f, -3.0f, std::nanf("")}) {
    DenseCrfParams p;
    p.bilateral_rgb = sigma;
    atrous::testing::expect_error([&] { dense_crf_inference(image, unary, p); }, {"sigma_rgb", "positive"});
    p = {};
    p.gaussian_xy = sigma;
    atrous::testing::expect_error([&] { dense_crf_inference(image, unary, p); }, {"sigma_gamma", "positive"});
  }
  DenseCrfParams p;
  p.bilateral_weight = -1.0f;
  atrous::testing::expect_error([&] { dense_crf_inference(image, unary, p); }, {"w1", ">= 0"});
  p = {};
  p.iterations = -1;
  atrous::testing::expect_error([&] { dense_crf_inference(image, unary, p); }, {"iterations"});
  p = {};
  p.gaussian_compatibility = {0, 1, 1, 0};
  atrous::testing::expect_error([&] { dense_crf_inference(image, unary, p); }, {"4 entries", "3x3"});
  // Kernels and CRFs of different sizes; labels outside the range; NaN unary.
  DenseCrf crf(h, w, labels);
  atrous::testing::expect_error(
      [&] { crf.add_pairwise(make_gaussian_kernel(h, w + 1, 3.0f, KernelNormalization::symmetric), 1.0f); },
      {"kernel over 48 pixels", "42 pixels"});
  std::vector<int> x(h * w, 0);
  x[5] = 3;
  atrous::testing::expect_error([&] { crf.energy(unary, Tensor::from_vector(x, {h, w})); }, {"label 3", "pixel 5"});
  Tensor nan_unary = unary.clone();
  nan_unary.data<float>()[2] = std::nanf("");
  atrous::testing::expect_error([&] { crf.mean_field(nan_unary, 1); }, {"unary energy nan", "pixel 0 label 2"});
  // The first bad value in memory order is named, whichever comes first in a pixel or across pixels.
  Tensor inf_unary = unary.clone();
  inf_unary.data<float>()[7 * labels + 1] = -INFINITY;
  inf_unary.data<float>()[9 * labels + 0] = std::nanf("");
  inf_unary.data<float>()[7 * labels + 2] = INFINITY;
  atrous::testing::expect_error([&] { crf.mean_field_with_labels(inf_unary, 1); },
                                {"unary energy -inf", "pixel 7 label 1"});
}

// The labels the last update finds on the way equal the argmax of the marginals it returns, the first of equal
// maxima winning as in std::max_element, for every row width (8, 16, 24, 32 and one read at run time) and for the
// exact kernels' path too.
TEST(DenseCrf, LabelsAreTheArgmaxOfTheMarginals) {
  const int h = 37, w = 45;
  const Tensor image = disc_image(h, w, 31);
  for (int labels : {3, 11, 21, 30, 37}) {
    SCOPED_TRACE("labels " + std::to_string(labels));
    const Tensor unary = unary_from_probabilities(noisy_probabilities(disc_truth(h, w), h, w, labels, 0.3, 32));
    for (FilterMethod method : {FilterMethod::lattice, FilterMethod::exact}) {
      DenseCrf crf(h, w, labels);
      crf.add_pairwise(make_gaussian_kernel(h, w, 3.0f, KernelNormalization::symmetric, method), 3.0f);
      crf.add_pairwise(make_bilateral_kernel(image, 20.0f, 13.0f, KernelNormalization::symmetric, method), 5.0f);
      const DenseCrfResult result = crf.mean_field_with_labels(unary, 3);
      EXPECT_TRUE(atrous::testing::bitwise_equal(result.probabilities, crf.mean_field(unary, 3)));
      const float* q = result.probabilities.data<float>();
      const int32_t* x = result.labels.data<int32_t>();
      int64_t wrong = 0;
      for (int64_t i = 0; i < h * w; ++i)
        wrong += x[i] != std::max_element(q + i * labels, q + (i + 1) * labels) - (q + i * labels);
      EXPECT_EQ(wrong, 0);
    }
    // Exact ties: without pairwise terms Q = softmax(-U), and two labels share the lowest energy.
    std::vector<float> tied(h * w * labels, 5.0f);
    for (int64_t i = 0; i < h * w; ++i) {
      const int first = static_cast<int>(i % labels), second = static_cast<int>((i * 7 + 1) % labels);
      tied[i * labels + first] = tied[i * labels + second] = 1.0f;
    }
    const Tensor tied_unary = Tensor::from_vector(tied, {h, w, labels});
    const Tensor tied_labels = DenseCrf(h, w, labels).mean_field_with_labels(tied_unary, 0).labels;
    const int32_t* x = tied_labels.data<int32_t>();
    for (int64_t i = 0; i < h * w; ++i)
      ASSERT_EQ(x[i], std::min<int64_t>(i % labels, (i * 7 + 1) % labels)) << "pixel " << i;
  }
}
