// Lattice keys numbered through a dense array instead of a hash table, for lattices whose keys fill a small box: the
// dense CRF's spatial kernel (d = 2, features x / sigma and y / sigma) touches about one key in eight of its bounding
// box, so an array of int32 per box cell costs a few bytes per pixel and turns every hash lookup (a probe into
// megabytes of slots and keys at random) into one indexed load next to the previous pixel's, and every blur
// neighbour into a fixed offset. PermutohedralLattice::build picks it where the box is small enough (fit()).
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>

#include "crf/lattice_embedding.h"

namespace atrous::crf {

class LatticeKeyGrid {
 public:
  // The grid for features (n rows of d floats, already divided by their sigmas) when its box has at most
  // max_cells_per_point * n cells (and fewer than 2^31); nullopt otherwise or when a feature is not finite (the hash
  // path then reports it).
  static std::optional<LatticeKeyGrid> fit(const float* features, int64_t n, int d, int64_t max_cells_per_point) {
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
    LatticeKeyGrid grid;
    grid.d_ = d;
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
      grid.low_[i] = static_cast<int32_t>(std::floor(lo - margin));
      grid.extent_[i] = static_cast<int64_t>(std::ceil(hi + margin)) - grid.low_[i] + 1;
      cells *= static_cast<double>(grid.extent_[i]);
    }
    if (cells > static_cast<double>(max_cells_per_point) * static_cast<double>(n) || cells >= 2147483647.0)
      return std::nullopt;
    grid.cells_ = static_cast<int64_t>(cells);
    int64_t step = 1;
    for (int i = d - 1; i >= 0; --i) {
      grid.step_[i] = step;
      step *= grid.extent_[i];
    }
    return grid;
  }

  int64_t cells() const { return cells_; }

  // The cell of a d-coordinate key inside the box.
  int32_t cell(const int32_t* key) const {
    int64_t c = 0;
    for (int i = 0; i < d_; ++i) c += static_cast<int64_t>(key[i] - low_[i]) * step_[i];
    return static_cast<int32_t>(c);
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
