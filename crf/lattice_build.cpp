// Building the permutohedral lattice on the CPU: every point embedded (its simplex's corners and barycentric
// weights, eight points at a time in vector lanes where the dimension is 2 or 5), its corners numbered by first
// touch in the visit order, and the blur neighbours of every vertex found once. Threads embed contiguous chunks of
// the visit order into their own tables, merged in thread order, which gives the numbers one thread would. The
// numbering goes through a dense array over the keys' box where that box is small (the spatial kernel), through a
// hash table of whole keys otherwise (the bilateral kernel).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "crf/lattice_embedding.h"
#include "crf/lattice_key_box.h"
#include "crf/lattice_key_table.h"
#include "crf/permutohedral_lattice.h"
#include "crf/simplex_lanes.h"

namespace atrous::crf {
namespace {

// Below this many pixels one thread builds the lattice (thread start-up would cost more than the hashing).
constexpr int64_t kParallelBuildPixels = 4096;
// Scaled features beyond this would make lattice coordinates lose integer precision in float (2^24) once
// elevated and multiplied out: reject them rather than hash garbage.
constexpr float kMaxScaledFeature = float(1 << 20);
// A thread's table starts sized for one vertex per this many points and grows on demand (photos: one per 4 to 15).
constexpr int64_t kExpectedPointsPerVertex = 4;

// Embeds the points of runs [r0, r1): per point the ids of its simplex's d+1 corners and its barycentric weights.
// `corners` numbers a corner's key: hash(key), then id(key, hash) (a thread's hash table, or a key grid's cell), with
// prefetch_slot(hash) and prefetch_entry(hash) to call ahead. D > 0 is the dimension at compile time (the CRF's 2 and
// 5): every loop unrolls, and the simplices of eight points at a time are found in vector lanes
// (crf/simplex_lanes.h). D == 0 reads d and embeds point by point. Points go in groups of eight: first every
// simplex and corner key of the group, then the table's slots of all of them are prefetched (and then the keys
// those slots point at), then the corners are numbered in order. A bilateral kernel's corners are almost all
// different from the previous pixel's (colour noise), so each is a lookup at a random place in a table of megabytes;
// one after the other those cache misses were most of the build's time, prefetched they overlap. Returns the first
// point whose features are not finite or too large, or -1.
template <int D, typename Corners>
int64_t embed_points(const float* features, int d_runtime, const std::vector<PixelRun>& runs, int64_t r0, int64_t r1,
                     const Corners& corners, int32_t* vertex, float* weight) {
  constexpr int kMax = D > 0 ? D : kMaxLatticeDims;
  const int d = D > 0 ? D : d_runtime, d1 = d + 1;
  float scale[kMax];
  for (int j = 0; j < d; ++j) scale[j] = lattice_axis_scale(d, j);
  float scaled[kMax];
  // Eight points' simplices at once where D is known and all eight are good.
  using Lanes = SimplexLanes<(D > 0 ? D : 1)>;
  Lanes lanes;
  typename Lanes::F scaled_lanes[D > 0 ? D : 1];
  // The group's simplices, whether each point looks its corners up (not when its simplex is the previous point's:
  // neighbouring pixels often share one, features change slowly along a row) and the keys and hashes to look up.
  EnclosingSimplex<kMax> simplex[kSimplexLanes];
  bool bad[kSimplexLanes], look_up[kSimplexLanes];
  int32_t key[kSimplexLanes][kMax + 1][kMaxLatticeDims] = {};  // (full size: LatticeKeyBox::cell reads its own d)
  uint64_t hash[kSimplexLanes][kMax + 1];
  int32_t previous_vertex[kMax + 1] = {};
  const EnclosingSimplex<kMax>* previous = nullptr;  // the last good point's simplex, if the point before was good
  EnclosingSimplex<kMax> carried;                    // the previous group's last simplex
  int64_t first_bad = -1;
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t group = runs[r].begin; group < runs[r].end; group += kSimplexLanes) {
      const int count = static_cast<int>(std::min<int64_t>(kSimplexLanes, runs[r].end - group));
      bool in_lanes = false;
      if constexpr (D > 0) {
        // Lanes past the run's end repeat its last point.
        bool ok = true;
        for (int l = 0; l < kSimplexLanes; ++l) {
          const int64_t i = group + std::min(l, count - 1);
          for (int j = 0; j < D; ++j) {
            const float x = features[i * D + j] * scale[j];
            scaled_lanes[j][l] = x;
            ok = ok && std::isfinite(x) && std::fabs(x) < kMaxScaledFeature;
          }
        }
        if (ok) find_enclosing_simplices<D>(scaled_lanes, lanes);
        in_lanes = ok;
      }
      // 1. Simplices and the keys to look up.
      for (int l = 0; l < count; ++l) {
        const int64_t i = group + l;
        bad[l] = false;
        if (in_lanes) {
          if constexpr (D > 0) lanes.extract(l, simplex[l]);
        } else {
          bool ok = true;
          for (int j = 0; j < d; ++j) {
            scaled[j] = features[i * d + j] * scale[j];
            ok = ok && std::isfinite(scaled[j]) && std::fabs(scaled[j]) < kMaxScaledFeature;
          }
          if (!ok) {
            if (first_bad < 0) first_bad = i;
            bad[l] = true;
            previous = nullptr;
            continue;
          }
          find_enclosing_simplex(d, scaled, simplex[l]);
        }
        bool same_simplex = previous != nullptr;
        for (int j = 0; j < d1; ++j)
          same_simplex =
              same_simplex && simplex[l].rem0[j] == previous->rem0[j] && simplex[l].rank[j] == previous->rank[j];
        look_up[l] = !same_simplex;
        if (look_up[l]) {
          for (int k = 0; k < d1; ++k) {
            simplex_vertex_key(d, simplex[l], k, key[l][k]);
            hash[l][k] = corners.hash(key[l][k]);
          }
        }
        previous = &simplex[l];
      }
      // 2. Prefetch what the lookups will read, all of the group's at once.
      for (int l = 0; l < count; ++l)
        if (!bad[l] && look_up[l])
          for (int k = 0; k < d1; ++k) corners.prefetch_slot(hash[l][k]);
      for (int l = 0; l < count; ++l)
        if (!bad[l] && look_up[l])
          for (int k = 0; k < d1; ++k) corners.prefetch_entry(hash[l][k]);
      // 3. Number the corners in visit order.
      for (int l = 0; l < count; ++l) {
        const int64_t i = group + l;
        if (bad[l]) {
          for (int k = 0; k < d1; ++k) vertex[i * d1 + k] = 0, weight[i * d1 + k] = 0.0f;
          continue;
        }
        for (int k = 0; k < d1; ++k) {
          if (look_up[l]) previous_vertex[k] = corners.id(key[l][k], hash[l][k]);
          vertex[i * d1 + k] = previous_vertex[k];
          weight[i * d1 + k] = simplex[l].barycentric[k];
        }
      }
      // The next group compares its first point with this group's last (the array is overwritten).
      if (previous != nullptr) {
        carried = *previous;
        previous = &carried;
      }
    }
  }
  return first_bad;
}

// The visit order's runs after checking that they tile [0, n) (an overlap visits a point twice, a gap never visits
// one); empty: one run per thread in index order.
std::vector<PixelRun> checked_runs(const std::vector<PixelRun>& visit_order, int64_t n, int threads) {
  std::vector<PixelRun> runs = visit_order;
  if (runs.empty()) {
    for (int t = 0; t < threads; ++t) runs.push_back({n * t / threads, n * (t + 1) / threads});
    return runs;
  }
  std::vector<PixelRun> sorted = runs;
  std::sort(sorted.begin(), sorted.end(), [](const PixelRun& a, const PixelRun& b) { return a.begin < b.begin; });
  int64_t next = 0;  // the first point no run has visited so far
  for (const PixelRun& r : sorted) {
    ATROUS_CHECK(r.begin >= 0 && r.begin <= r.end && r.end <= n, "permutohedral lattice: visit run [", r.begin, ", ",
                 r.end, ") is outside the ", n, " points");
    if (r.begin == r.end) continue;
    ATROUS_CHECK(r.begin >= next, "permutohedral lattice: the visit order visits point ", r.begin, " twice");
    ATROUS_CHECK(r.begin == next, "permutohedral lattice: the visit order never visits point ", next);
    next = r.end;
  }
  ATROUS_CHECK(next == n, "permutohedral lattice: the visit order never visits point ", next);
  return runs;
}

// Runs embed_points on each thread's chunk of runs with the corners of corners_of(thread), and reports the first bad
// feature row.
template <typename CornersOf>
void embed_chunks(const float* features, int d, const std::vector<PixelRun>& runs, const std::vector<int64_t>& chunk,
                  CornersOf&& corners_of, int32_t* vertex, float* weight) {
  const int threads = static_cast<int>(chunk.size()) - 1;
  std::vector<int64_t> first_bad(threads, -1);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const auto corners = corners_of(t);
    switch (d) {
      case 2:
        first_bad[t] = embed_points<2>(features, d, runs, chunk[t], chunk[t + 1], corners, vertex, weight);
        break;
      case 5:
        first_bad[t] = embed_points<5>(features, d, runs, chunk[t], chunk[t + 1], corners, vertex, weight);
        break;
      default:
        first_bad[t] = embed_points<0>(features, d, runs, chunk[t], chunk[t + 1], corners, vertex, weight);
    }
  }
  for (int t = 0; t < threads; ++t) {
    if (first_bad[t] < 0) continue;
    const int64_t i = first_bad[t];
    std::ostringstream row;
    for (int j = 0; j < d; ++j) row << (j ? ", " : "") << features[i * d + j];
    ATROUS_FAIL("permutohedral lattice: feature row ", i, " (", row.str(), ") is not finite or too large (|f| * ",
                "lattice scale must stay below ", kMaxScaledFeature, "; is a sigma zero or tiny?)");
  }
}

// embed_points' corners numbered by a thread's KeyTable.
struct TableCorners {
  KeyTable* table;
  int d;
  uint64_t hash(const int32_t* key) const { return lattice_key_hash(d, key); }
  void prefetch_slot(uint64_t h) const { table->prefetch(h); }
  void prefetch_entry(uint64_t h) const { table->prefetch_entry(h); }
  int32_t id(const int32_t* key, uint64_t h) const { return table->insert(key, h); }
};

// embed_points' corners numbered by their cell in a key box (below 2^31 cells): nothing to look up.
struct CellCorners {
  const LatticeKeyBox* box;
  uint64_t hash(const int32_t*) const { return 0; }
  void prefetch_slot(uint64_t) const {}
  void prefetch_entry(uint64_t) const {}
  int32_t id(const int32_t* key, uint64_t) const { return static_cast<int32_t>(box->cell(key)); }
};

// Embeds every thread's chunk into its own key table and merges the tables in thread order: thread 0's vertices keep
// their numbers and each later thread's new ones follow, the first-touch numbering of one thread. Returns the merged
// table; `vertex` then holds its indices.
KeyTable number_keys(const float* features, int d, const std::vector<PixelRun>& runs, const std::vector<int64_t>& chunk,
                     const std::vector<int64_t>& chunk_points, int32_t* vertex, float* weight) {
  const int threads = static_cast<int>(chunk_points.size()), d1 = d + 1;
  // Sized small and grown on demand: a table sized for the worst case (d+1 vertices per pixel) is mostly empty and
  // misses the cache on every probe.
  std::vector<KeyTable> tables;
  tables.reserve(threads);
  for (int t = 0; t < threads; ++t) tables.emplace_back(d, chunk_points[t] / kExpectedPointsPerVertex + 64);
  embed_chunks(
      features, d, runs, chunk,
      [&tables, d](int t) {
        return TableCorners{&tables[t], d};
      },
      vertex, weight);
  if (threads == 1) return std::move(tables[0]);

  // Thread 0's table becomes the merged one, its vertices keeping their numbers; each later thread's keys are
  // inserted in order after it (new ones numbered next). This part is sequential: a few vertices per hundred pixels.
  int64_t total = 0;
  for (const KeyTable& table : tables) total += table.size();
  KeyTable global = std::move(tables[0]);
  global.reserve(total);
  std::vector<std::vector<int32_t>> to_global(threads);
  for (int t = 1; t < threads; ++t) {
    to_global[t].resize(tables[t].size());
    for (int64_t l = 0; l < tables[t].size(); ++l) to_global[t][l] = global.insert(tables[t].key(l), tables[t].hash(l));
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int32_t* map = to_global[t].data();
    if (t > 0)
      for (int64_t r = chunk[t]; r < chunk[t + 1]; ++r)
        for (int64_t e = runs[r].begin * d1; e < runs[r].end * d1; ++e) vertex[e] = map[vertex[e]];
  }
  return global;
}

}  // namespace

PermutohedralLattice PermutohedralLattice::build(const float* features, int64_t n, int d,
                                                 const std::vector<PixelRun>& visit_order, KeyIndexing indexing) {
  ATROUS_CHECK(d >= 1 && d <= kMaxLatticeDims, "permutohedral lattice: feature dimension ", d,
               " is outside the supported range [1, ", kMaxLatticeDims, "]");
  ATROUS_CHECK(n >= 1, "permutohedral lattice: needs at least one point, got ", n);
  ATROUS_CHECK(n * (d + 1) < (int64_t(1) << 31), "permutohedral lattice: ", n, " points of dimension ", d,
               " exceed the 2^31 simplex-corner limit");
  PermutohedralLattice lattice;
  lattice.d_ = d;
  lattice.n_ = n;
  lattice.vertex_ = HostArray<int32_t>(n * (d + 1));
  lattice.weight_ = HostArray<float>(n * (d + 1));

  const int threads = n >= kParallelBuildPixels ? std::max(1, omp_get_max_threads()) : 1;
  const std::vector<PixelRun> runs = checked_runs(visit_order, n, threads);
  // Each thread a contiguous share of the runs, about n / threads points each.
  std::vector<int64_t> chunk(threads + 1), chunk_points(threads, 0);
  chunk[threads] = static_cast<int64_t>(runs.size());
  for (int64_t r = 0, t = 0, before = 0; r < static_cast<int64_t>(runs.size()); ++r) {
    while (t + 1 < threads && before >= n * (t + 1) / threads) chunk[++t] = r;
    chunk_points[t] += runs[r].end - runs[r].begin;
    before += runs[r].end - runs[r].begin;
  }
  for (int t = 1; t < threads; ++t) chunk[t] = std::max(chunk[t], chunk[t - 1]);

  std::optional<LatticeKeyBox> box;
  if (indexing != KeyIndexing::keys) box = LatticeKeyBox::of(features, n, d);
  const bool grid_fits = box && box->cells() <= kMaxGridCellsPerPoint * n && box->cells() < (int64_t(1) << 31);
  if (indexing == KeyIndexing::automatic) indexing = grid_fits ? KeyIndexing::grid : KeyIndexing::keys;
  ATROUS_CHECK(indexing != KeyIndexing::grid || grid_fits, "permutohedral lattice: the ", d,
               "-dimensional features' keys do not fit a grid of ", kMaxGridCellsPerPoint, " cells per point");
  switch (indexing) {
    case KeyIndexing::grid:
      lattice.build_on_grid(*box, features, runs, chunk);
      break;
    default:
      lattice.build_on_keys(features, runs, chunk, chunk_points);
  }
  return lattice;
}

void PermutohedralLattice::build_on_keys(const float* features, const std::vector<PixelRun>& runs,
                                         const std::vector<int64_t>& chunk, const std::vector<int64_t>& chunk_points) {
  const int d = d_, d1 = d_ + 1;
  const KeyTable global = number_keys(features, d, runs, chunk, chunk_points, vertex_.data(), weight_.data());
  const int64_t m = global.size();
  m_ = m;

  // Blur neighbours along each lattice direction j: the key moved by +-(d+1) e_j - (1, ..., 1) (paper sec. 3.2, the
  // d+1 vectors that span the lattice); for j = d only the all-ones shift shows in the stored d coordinates. The two
  // moves undo each other, so only the left neighbours are looked up: where q is p's left neighbour, p is q's right
  // one (and no other vertex's, so the threads' writes never meet). Half the lookups of asking both ways.
  neighbours_ = HostArray<int32_t>(d1 * m * 2);
  int32_t* const out = neighbours_.data();
#pragma omp parallel if (m > 4096)
  {
#pragma omp for schedule(static)
    for (int64_t e = 0; e < d1 * m; ++e) out[e * 2 + 1] = static_cast<int32_t>(m);  // right: none until found
    // A vertex's d+1 lookups are independent: their hashes are computed and their slots prefetched first, so the
    // cache misses overlap instead of queueing.
#pragma omp for schedule(static)
    for (int64_t p = 0; p < m; ++p) {
      const int32_t* key = global.key(p);
      int32_t left[kMaxLatticeDims + 1][kMaxLatticeDims];
      uint64_t hashes[kMaxLatticeDims + 1];
      for (int j = 0; j < d1; ++j) {
        for (int i = 0; i < d; ++i) left[j][i] = key[i] - 1;
        if (j < d) left[j][j] = key[j] + d;
        hashes[j] = lattice_key_hash(d, left[j]);
        global.prefetch(hashes[j]);
      }
      for (int j = 0; j < d1; ++j) {
        const int32_t q = global.find(left[j], hashes[j]);
        out[(j * m + p) * 2] = q < 0 ? static_cast<int32_t>(m) : q;
        if (q >= 0) out[(j * m + q) * 2 + 1] = static_cast<int32_t>(p);
      }
    }
  }
}

namespace {

// The grid's cell offsets of the blur neighbours, in neighbours_' order (direction j, then left and right), after
// checking that those of the cells [lowest, highest] stay inside the box (its margin makes sure; checked once here
// rather than per lookup).
std::vector<int64_t> neighbour_offsets(const LatticeKeyBox& box, int d, int64_t lowest, int64_t highest) {
  std::vector<int64_t> offsets;
  for (int j = 0; j <= d; ++j) {
    for (int sign : {-1, 1}) {
      offsets.push_back(box.neighbour_offset(j, sign));
      ATROUS_CHECK(lowest + offsets.back() >= 0 && highest + offsets.back() < box.cells(),
                   "permutohedral lattice: a blur neighbour falls outside the key box (internal error)");
    }
  }
  return offsets;
}

}  // namespace

void PermutohedralLattice::build_on_grid(const LatticeKeyBox& box, const float* features,
                                         const std::vector<PixelRun>& runs, const std::vector<int64_t>& chunk) {
  const int d1 = d_ + 1;
  // 1. Each thread embeds its chunk; a corner's id is its key's cell (below 2^31 here).
  embed_chunks(
      features, d_, runs, chunk, [&box](int) { return CellCorners{&box}; }, vertex_.data(), weight_.data());

  // 2. Number the cells the corners touch in visit order (first touch, as the tables number them).
  HostArray<int32_t> vertex_of_cell(box.cells(), -1);
  std::vector<int32_t> cell_of_vertex;
  for (const PixelRun& run : runs) {
    for (int64_t e = run.begin * d1; e < run.end * d1; ++e) {
      int32_t& v = vertex_of_cell[vertex_[e]];
      if (v < 0) {
        v = static_cast<int32_t>(cell_of_vertex.size());
        cell_of_vertex.push_back(vertex_[e]);
      }
      vertex_[e] = v;
    }
  }
  const int64_t m = static_cast<int64_t>(cell_of_vertex.size());
  m_ = m;

  // 3. Blur neighbours: along each direction a fixed cell offset.
  const auto [lowest, highest] = std::minmax_element(cell_of_vertex.begin(), cell_of_vertex.end());
  const std::vector<int64_t> offsets = neighbour_offsets(box, d_, *lowest, *highest);
  neighbours_ = HostArray<int32_t>(d1 * m * 2);
  for (int e = 0; e < 2 * d1; ++e) {
    int32_t* out = neighbours_.data() + (e / 2) * m * 2 + e % 2;
#pragma omp parallel for schedule(static) if (m > 4096)
    for (int64_t p = 0; p < m; ++p) {
      const int32_t found = vertex_of_cell[cell_of_vertex[p] + offsets[e]];
      out[p * 2] = found < 0 ? static_cast<int32_t>(m) : found;
    }
  }
}

}  // namespace atrous::crf
