// Gaussian filtering in a d-dimensional feature space with the permutohedral lattice (Adams, Baek & Davis,
// Eurographics 2010): splat each point's values onto the d+1 vertices of its enclosing simplex with barycentric
// weights, blur the lattice with [1 2 1] along each of the d+1 lattice directions, slice back with the same weights.
// Built once per image (the expensive hashing), then filters any number of value sets (every mean-field iteration).
// CPU: build and filter run on OpenMP threads; filtering vectorises over the values of a point.
#pragma once
#include <cstddef>
#include <cstdint>

#include <vector>

#include "crf/host_array.h"
#include "crf/pixel_order.h"

namespace atrous::crf {

class LatticeKeyBox;

// How build() numbers lattice keys: a hash table of the keys (any features); a dense array over the keys' bounding
// box (no hashing; boxes of at most kMaxGridCellsPerPoint cells per point, e.g. the CRF's spatial kernel); or the
// grid where it fits. Both give the same lattice, vertex numbers included.
enum class KeyIndexing { automatic, keys, grid };

class PermutohedralLattice {
 public:
  PermutohedralLattice() = default;

  // features: n rows of d floats, each already divided by its kernel's sigma. Errors on d outside
  // [1, kMaxLatticeDims], non-finite features, or features so large that lattice coordinates would overflow.
  // visit_order: runs of point indices covering every point once (e.g. an image's tile_order); vertices are
  // numbered in the order these visits first touch them, so that filtering in the same order finds each stretch
  // of points' vertices close together in memory. Empty: points in index order.
  // indexing: see KeyIndexing (grid is an error where the keys do not fit one).
  static PermutohedralLattice build(const float* features, int64_t n, int d,
                                    const std::vector<PixelRun>& visit_order = {},
                                    KeyIndexing indexing = KeyIndexing::automatic);
  static constexpr int64_t kMaxGridCellsPerPoint = 8;

  int dims() const { return d_; }
  int64_t num_pixels() const { return n_; }
  int64_t num_points() const { return m_; }  // lattice vertices touched by at least one pixel
  size_t memory_bytes() const;               // everything the lattice holds after build

  // out_i = alpha * post_i * sum_k b_ik [B splat(pre .* in)](v_ik): densecrf's approximation of
  // sum_j exp(-|f_i - f_j|^2 / 2) pre_j in_j, times post_i. in/out hold n rows of `stride` floats, all filtered
  // (pad rows with zeros); in and out may alias. pre_scale / post_scale may be null (meaning ones). Results are
  // deterministic for a given thread count; other counts sum the splat in another order (float rounding only).
  // `scratch` is grown as needed and can be reused across calls to avoid reallocation.
  void filter(const float* in, float* out, int64_t stride, const float* pre_scale, const float* post_scale,
              HostArray<float>& scratch) const;

  // The blur of all d+1 directions in place of a splatted `values` ((m+1) x stride, row m zero), using `spare` (same
  // size, row m zero) for the ping-pong; returns whichever of the two holds the result. Inside an OpenMP parallel
  // region every thread of the team must call it (the directions are shared loops); outside, it runs on one thread.
  float* blur(float* values, float* spare, int64_t stride) const;

  // Read access for the GPU upload and the tests: per pixel the d+1 vertex indices and barycentric weights
  // (n x (d+1)), and per lattice direction j and vertex p the two neighbours ((d+1) x m x 2; m means none).
  const int32_t* vertex_of_pixel() const { return vertex_.data(); }
  const float* weight_of_pixel() const { return weight_.data(); }
  const int32_t* blur_neighbours() const { return neighbours_.data(); }
  // The slice's constant 1 / (1 + 2^-d): the blurred impulse's self weight, as densecrf scales it.
  float slice_scale() const;

 private:
  // build()'s two ways to number the keys; runs: the checked visit order, chunk: each thread's share of the runs.
  void build_on_keys(const float* features, const std::vector<PixelRun>& runs, const std::vector<int64_t>& chunk,
                     const std::vector<int64_t>& chunk_points);
  void build_on_grid(const LatticeKeyBox& box, const float* features, const std::vector<PixelRun>& runs,
                     const std::vector<int64_t>& chunk);

  int d_ = 0;
  int64_t n_ = 0;
  int64_t m_ = 0;
  HostArray<int32_t> vertex_;      // n * (d+1): lattice vertex of each pixel's simplex corner
  HostArray<float> weight_;        // n * (d+1): barycentric weights
  HostArray<int32_t> neighbours_;  // (d+1) * m * 2
};

// total += the team's other splat copies (copies: (team - 1) x size floats), shared among the threads of an OpenMP
// team that all call it. Summed in thread order, so a thread count always gives the same result.
void sum_thread_copies(float* total, const float* copies, int64_t size, int team);

}  // namespace atrous::crf
