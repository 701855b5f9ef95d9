// Cross-validation of the CRF's appearance kernel (w1, sigma_alpha, sigma_beta) on a validation subset, coarse to
// fine, as DeepLab does it (v2 sec. 4.1: w2 = 3 and sigma_gamma = 3 fixed; w1 in [3:6], sigma_alpha in [30:10:100],
// sigma_beta in [3:6] on 100 val images, then finer steps around the first round's best; v1 searched sigma_beta in
// [3:10]). Each image is loaded once per round and its kernels are shared by every w1.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "crf/crf_params.h"

namespace atrous::crf {

struct CrfSearchSample {
  Tensor image;   // u8 [H,W,3]
  Tensor unary;   // f32 [H,W,C] energies (-log P)
  Tensor labels;  // u8 or i32 [H,W] ground truth; ignore_index pixels are skipped
};

struct CrfSearchGrid {
  std::vector<float> w1, sa, sb;
  static CrfSearchGrid deeplab_v2();  // the paper's first round: 4 x 8 x 4 settings
  static CrfSearchGrid deeplab_v1();  // sigma_beta in [3:10]
  int64_t size() const { return int64_t(w1.size()) * sa.size() * sb.size(); }
};

struct CrfSearchEntry {
  float w1 = 0, sa = 0, sb = 0;
  int round = 0;  // 0: the coarse grid, 1..: refinements
  double miou = 0, pixel_accuracy = 0;
};

struct CrfSearchOptions {
  CrfSearchGrid grid = CrfSearchGrid::deeplab_v2();
  int refine_rounds = 1;  // finer grids (half the steps around the best) after the coarse one
  int num_classes = 0;    // classes in the scores and labels
  int ignore_index = 255;
  DenseCrfParams base;  // w2, sigma_gamma, iterations, normalisation; w1/sa/sb come from the grid
  std::function<void(const std::string&)> progress;  // optional: one line per image
  // -1: the CPU (one image's lattices shared across settings); else the CUDA device that runs every setting's mean
  // field (crf/cuda_dense_crf.h; each setting builds its own lattices there).
  int device = -1;
};

struct CrfSearchResult {
  std::vector<CrfSearchEntry> table;  // every setting tried, in the order tried
  CrfSearchEntry best;
  double unary_miou = 0, unary_pixel_accuracy = 0;  // the scores' argmax, without the CRF
  int64_t images = 0;
  std::string str() const;  // the table sorted by mIoU, the unary baseline and the best setting
};

using CrfSampleLoader = std::function<CrfSearchSample(int64_t index)>;

// Errors on an empty grid or subset, non-positive values, and samples whose shapes disagree.
CrfSearchResult crf_search(const CrfSampleLoader& load, int64_t count, const CrfSearchOptions& options);

// The next round's grid: best +- half of the current spacing in each searched dimension (a dimension with a single
// value stays fixed); values stay positive.
CrfSearchGrid refine_grid(const CrfSearchGrid& grid, const CrfSearchEntry& best);

}  // namespace atrous::crf
