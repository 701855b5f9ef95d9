// CRF parameter search: the coarse grid then refinements around the best, every setting scored over the whole
// subset; the best beats the scores' own argmax on noisy synthetic segmentations; grids refine as documented; bad
// input is an error.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "crf/crf_search.h"
#include "crf/dense_crf.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::crf;

namespace {

// A disc on a background, its truth, and scores that are wrong at ~35% of pixels.
CrfSearchSample disc_sample(int h, int w, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0f, 5.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  CrfSearchSample s{Tensor::empty({h, w, 3}, DType::u8), Tensor::empty({h, w, 3}), Tensor::empty({h, w}, DType::u8)};
  uint8_t* rgb = s.image.data<uint8_t>();
  float* unary = s.unary.data<float>();
  uint8_t* truth = s.labels.data<uint8_t>();
  const int cx = w / 2 + static_cast<int>(seed % 5), cy = h / 2;
  for (int i = 0; i < h * w; ++i) {
    const int x = i % w, y = i / w;
    const bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < h * h / 9;
    truth[i] = inside ? 1 : 0;
    if (x < 3) truth[i] = 255;  // an ignored strip
    for (int c = 0; c < 3; ++c)
      rgb[i * 3 + c] =
          static_cast<uint8_t>(std::clamp((inside ? 190.0f - 60 * c : 50.0f + 40 * c) + noise(gen), 0.0f, 255.0f));
    const int favoured = u(gen) < 0.35f ? static_cast<int>(u(gen) * 3) : (inside ? 1 : 0);
    for (int l = 0; l < 3; ++l) unary[i * 3 + l] = (l == favoured ? 0.4f : 1.4f) + 0.3f * u(gen);
  }
  return s;
}

}  // namespace

TEST(CrfSearch, CoarseThenFineFindsABetterSettingThanTheScores) {
  std::vector<CrfSearchSample> samples;
  for (uint32_t seed = 0; seed < 3; ++seed) samples.push_back(disc_sample(40, 48, seed));
  CrfSearchOptions options;
  options.grid = {{1, 4}, {10, 40}, {5, 20}};
  options.refine_rounds = 1;
  options.num_classes = 3;
  options.base.iterations = 5;
  int progress_lines = 0;
  options.progress = [&](const std::string&) { ++progress_lines; };
  const CrfSearchResult r = crf_search([&](int64_t i) { return samples[i]; }, 3, options);

  EXPECT_EQ(r.images, 3);
  EXPECT_EQ(progress_lines, 6);  // one per image per round
  ASSERT_GT(r.table.size(), 8u);
  for (int k = 0; k < 8; ++k) EXPECT_EQ(r.table[k].round, 0);
  EXPECT_EQ(r.table.back().round, 1);
  for (const CrfSearchEntry& e : r.table) EXPECT_LE(e.miou, r.best.miou);
  // Every setting appears once.
  for (size_t a = 0; a < r.table.size(); ++a)
    for (size_t b = a + 1; b < r.table.size(); ++b)
      EXPECT_FALSE(r.table[a].w1 == r.table[b].w1 && r.table[a].sa == r.table[b].sa && r.table[a].sb == r.table[b].sb);
  EXPECT_GT(r.best.miou, r.unary_miou + 0.1);
  // The table entry's score is what the CRF with those parameters gives, image by image.
  DenseCrfParams p = options.base;
  p.bilateral_weight = r.best.w1, p.bilateral_xy = r.best.sa, p.bilateral_rgb = r.best.sb;
  int64_t right = 0, all = 0;
  for (const CrfSearchSample& s : samples) {
    const Tensor x = dense_crf_inference(s.image, s.unary, p).labels;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int t = s.labels.data<uint8_t>()[i];
      if (t == 255) continue;
      right += x.data<int32_t>()[i] == t, ++all;
    }
  }
  EXPECT_NEAR(r.best.pixel_accuracy, double(right) / all, 1e-12);
  const std::string text = r.str();
  EXPECT_NE(text.find("best: w1="), std::string::npos) << text;
  EXPECT_NE(text.find("without CRF"), std::string::npos);
}

TEST(CrfSearch, RefineGridHalvesTheStepAroundTheBest) {
  const CrfSearchGrid g = CrfSearchGrid::deeplab_v2();
  EXPECT_EQ(g.size(), 4 * 8 * 4);
  EXPECT_EQ(CrfSearchGrid::deeplab_v1().sb.size(), 8u);
  CrfSearchEntry best;
  best.w1 = 4, best.sa = 30, best.sb = 6;
  const CrfSearchGrid fine = refine_grid(g, best);
  EXPECT_EQ(fine.w1, (std::vector<float>{3.5f, 4.0f, 4.5f}));
  EXPECT_EQ(fine.sa, (std::vector<float>{25.0f, 30.0f, 35.0f}));
  EXPECT_EQ(fine.sb, (std::vector<float>{5.5f, 6.0f, 6.5f}));
  EXPECT_EQ(refine_grid({{0.5f, 1.5f}, {50}, {3}}, {1.5f, 50, 3}).sa, std::vector<float>{50});
  EXPECT_EQ(refine_grid({{0.5f, 1.5f}, {50}, {3}}, {0.5f, 50, 3}).w1, (std::vector<float>{0.5f, 1.0f}));  // > 0 only
}

TEST(CrfSearch, BadInputIsAnError) {
  const CrfSearchSample good = disc_sample(20, 24, 1);
  CrfSearchOptions options;
  options.num_classes = 3;
  options.refine_rounds = 0;
  options.grid = {{3}, {30}, {}};
  const auto load = [&](int64_t) { return good; };
  atrous::testing::expect_error([&] { crf_search(load, 1, options); }, {"grid is empty"});
  options.grid = {{3}, {0}, {3}};
  atrous::testing::expect_error([&] { crf_search(load, 1, options); }, {"grid value 0"});
  options.grid = {{3}, {30}, {3}};
  atrous::testing::expect_error([&] { crf_search(load, 0, options); }, {"subset is empty"});
  CrfSearchSample wrong = good;
  wrong.labels = Tensor::zeros({20, 25}, DType::u8);
  atrous::testing::expect_error([&] { crf_search([&](int64_t) { return wrong; }, 1, options); },
                                {"sample 0", "u8[20,25]"});
  wrong = good;
  wrong.labels = Tensor::full({20, 24}, 7, DType::u8);
  atrous::testing::expect_error([&] { crf_search([&](int64_t) { return wrong; }, 1, options); },
                                {"ground-truth label 7"});
}
