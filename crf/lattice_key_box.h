// The bounding box of a lattice's keys, numbering each key by its cell (mixed radix over the box): a key becomes one
// integer and a blur neighbour a fixed offset from it. Where the box is small (the dense CRF's spatial kernel, d = 2,
// touches about one cell in eight) PermutohedralLattice::build numbers vertices through a dense array over the cells:
// one indexed load next to the previous pixel's instead of a hash probe into a table spread over megabytes.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>

#include "crf/lattice_embedding.h"

namespace atrous::crf {

class LatticeKeyBox {
 public:
  // The box of the keys of features (n rows of d floats, already divided by their sigmas) and their blur
  // neighbours; nullopt when a feature is not finite (the key table then reports it) or the box has 2^62 cells or
  // more.
  static std::optional<LatticeKeyBox> of(const float* features, int64_t n, int d) {
    float low[kMaxLatticeDims], high[kMaxLatticeDims];
    for (int j = 0; j < d; ++j) low[j] = high[j] = features[j];
    for (int64_t i = 0; i < n; ++i) {
      for (int j = 0; j < d; ++j) {
        const float f = features[i * d + j];
        if (!std::isfinite(f)) return std::nullopt;
        low[j] = f < low[j] ? f : low[j];
        high[j] = f > high[j] ? f : high[j];
      }
    }
    // The bounds of each elevated coordinate over the features' box (find_enclosing_simplex's elevation: coordinate
    // i is the sum of the scaled features from i on, minus i times scaled feature i-1, linear in each feature).
    LatticeKeyBox box;
    box.d_ = d;
    double cells = 1;
    for (int i = 0; i < d; ++i) {
      double lo = 0, hi = 0;
      for (int j = i; j < d; ++j) {
        lo += low[j] * lattice_axis_scale(d, j);
        hi += high[j] * lattice_axis_scale(d, j);
      }
      if (i > 0) {
        lo -= i * high[i - 1] * lattice_axis_scale(d, i - 1);
        hi -= i * low[i - 1] * lattice_axis_scale(d, i - 1);
      }
      // A vertex key lies within 2(d+1) of its point's elevated coordinate (rounding to a remainder-0 point, its
      // correction, the vertex's own offset), and its blur neighbours within another d+1; a margin of 4(d+1)
      // also absorbs float rounding.
      const double margin = 4.0 * (d + 1);
      if (std::fabs(lo) > 0x1p30 || std::fabs(hi) > 0x1p30) return std::nullopt;  // beyond what the lattice accepts
      box.low_[i] = static_cast<int32_t>(std::floor(lo - margin));
      box.extent_[i] = static_cast<int64_t>(std::ceil(hi + margin)) - box.low_[i] + 1;
      cells *= static_cast<double>(box.extent_[i]);
    }
    if (cells >= 0x1p62) return std::nullopt;
    box.cells_ = static_cast<int64_t>(cells);
    int64_t step = 1;
    for (int i = d - 1; i >= 0; --i) {
      box.step_[i] = step;
      step *= box.extent_[i];
    }
    return box;
  }

  int64_t cells() const { return cells_; }

  // The cell of a d-coordinate key inside the box.
  int64_t cell(const int32_t* key) const {
    int64_t c = 0;
    for (int i = 0; i < d_; ++i) c += static_cast<int64_t>(key[i] - low_[i]) * step_[i];
    return c;
  }

  // The cell offset from a key to its blur neighbour along lattice direction j (0..d) on the side `sign` (-1: the key
  // moved by +(d+1) e_j - (1, ..., 1), +1: the opposite), as PermutohedralLattice's blur neighbours are defined.
  int64_t neighbour_offset(int j, int sign) const {
    int64_t offset = 0;
    for (int i = 0; i < d_; ++i) offset -= step_[i];
    if (j < d_) offset += (d_ + 1) * step_[j];
    return sign < 0 ? offset : -offset;
  }

 private:
  int d_ = 0;
  int32_t low_[kMaxLatticeDims] = {};
  int64_t extent_[kMaxLatticeDims] = {};
  int64_t step_[kMaxLatticeDims] = {};
  int64_t cells_ = 0;
};

}  // namespace atrous::crf
