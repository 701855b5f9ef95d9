// Where a point falls in the permutohedral lattice A*_d (Adams, Baek & Davis, Eurographics 2010, sec. 3-4): the
// position is elevated onto the hyperplane sum(x) = 0 of R^(d+1), the remainder-0 lattice point nearest to it is
// found by rounding and a sort of the rounding errors, and the enclosing simplex's d+1 vertices and the point's
// barycentric weights follow from that order. Shared by the CPU lattice, the CUDA kernels and the tests.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/host_device.h"

namespace atrous::crf {

// Feature dimensions a lattice accepts: 2 (the spatial kernel) and 5 (bilateral) in the CRF, up to this in general.
constexpr int kMaxLatticeDims = 16;

// Per-axis factor applied to a feature (already divided by its sigma) before elevation. sqrt(2/3) (d+1) makes the
// lattice's [1 2 1] blur along all d+1 directions approximate a unit-variance Gaussian (the paper's sec. 3.1
// scaling, as densecrf uses it); 1/sqrt((i+1)(i+2)) normalises the columns of the elevation matrix E.
ATROUS_HOST_DEVICE inline float lattice_axis_scale(int d, int axis) {
  return sqrtf(2.0f / 3.0f) * static_cast<float>(d + 1) / sqrtf(static_cast<float>((axis + 1) * (axis + 2)));
}

// The simplex enclosing one point. rem0: the remainder-0 vertex (d+1 coordinates, multiples of d+1, summing to 0).
// rank[i]: the order of coordinate i's rounding error (0 = largest). barycentric[k]: the weight of vertex k.
template <int MaxD = kMaxLatticeDims>
struct EnclosingSimplex {
  int32_t rem0[MaxD + 1];
  int32_t rank[MaxD + 1];
  float barycentric[MaxD + 2];
};

// scaled: the d features times lattice_axis_scale. Writes the enclosing simplex of the elevated point.
template <int MaxD>
ATROUS_HOST_DEVICE inline void find_enclosing_simplex(int d, const float* scaled, EnclosingSimplex<MaxD>& s) {
  const int d1 = d + 1;
  float elevated[MaxD + 1];
  // Elevation E f (paper eq. 4 with its columns normalised): coordinate i gets the partial sum of the later
  // features minus i times feature i-1, so the coordinates sum to zero.
  float partial = 0.0f;
  for (int i = d; i > 0; --i) {
    const float cf = scaled[i - 1];
    elevated[i] = partial - static_cast<float>(i) * cf;
    partial += cf;
  }
  elevated[0] = partial;

  // Nearest remainder-0 point coordinate-wise: each coordinate rounded to a multiple of d+1.
  const float inv_d1 = 1.0f / static_cast<float>(d1);
  int sum = 0;
  for (int i = 0; i <= d; ++i) {
    const float v = elevated[i] * inv_d1;
    const float up = ceilf(v) * static_cast<float>(d1);
    const float down = floorf(v) * static_cast<float>(d1);
    s.rem0[i] = static_cast<int32_t>(up - elevated[i] < elevated[i] - down ? up : down);
    sum += s.rem0[i];
    s.rank[i] = 0;
  }
  // Rank the rounding errors (ties go to the later coordinate, which keeps the ranks a permutation).
  for (int i = 0; i < d; ++i) {
    for (int j = i + 1; j <= d; ++j) {
      if (elevated[i] - s.rem0[i] < elevated[j] - s.rem0[j]) {
        ++s.rank[i];
      } else {
        ++s.rank[j];
      }
    }
  }
  // The rounded point must lie on the hyperplane: if its coordinates sum to sum*(d+1) != 0, move the |sum|
  // coordinates with the worst rounding errors to their other neighbouring multiple, and re-rank.
  sum /= d1;
  if (sum > 0) {
    for (int i = 0; i <= d; ++i) {
      if (s.rank[i] >= d1 - sum) {
        s.rem0[i] -= d1;
        s.rank[i] += sum - d1;
      } else {
        s.rank[i] += sum;
      }
    }
  } else if (sum < 0) {
    for (int i = 0; i <= d; ++i) {
      if (s.rank[i] < -sum) {
        s.rem0[i] += d1;
        s.rank[i] += d1 + sum;
      } else {
        s.rank[i] += sum;
      }
    }
  }
  // Barycentric weights (paper sec. 4.1): differences of the sorted, scaled rounding errors.
  for (int k = 0; k <= d + 1; ++k) s.barycentric[k] = 0.0f;
  for (int i = 0; i <= d; ++i) {
    const float v = (elevated[i] - static_cast<float>(s.rem0[i])) * inv_d1;
    s.barycentric[d - s.rank[i]] += v;
    s.barycentric[d + 1 - s.rank[i]] -= v;
  }
  s.barycentric[0] += 1.0f + s.barycentric[d + 1];
}

// The first d coordinates of vertex k (0..d) of the simplex; the last one is implied by the zero sum. Vertex k is
// rem0 plus the remainder-k point whose coordinates are k, or k-(d+1) for the k coordinates ranked last.
template <int MaxD>
ATROUS_HOST_DEVICE inline void simplex_vertex_key(int d, const EnclosingSimplex<MaxD>& s, int k, int32_t* key) {
  for (int i = 0; i < d; ++i) key[i] = s.rem0[i] + k - (s.rank[i] > d - k ? d + 1 : 0);
}

// Hash of a d-coordinate key (the CPU and GPU tables use the same one): coordinates folded in by multiply-add, then
// the splitmix64 finaliser, so the low bits that pick a slot depend on every coordinate. (A per-coordinate
// xorshift-multiply alone left runs of neighbouring keys in neighbouring slots: long linear probes.)
ATROUS_HOST_DEVICE inline uint64_t lattice_key_hash(int d, const int32_t* key) {
  uint64_t h = 0;
  for (int i = 0; i < d; ++i) h = (h + static_cast<uint32_t>(key[i])) * 0x9E3779B97F4A7C15ull;
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  h ^= h >> 31;
  return h;
}

}  // namespace atrous::crf
