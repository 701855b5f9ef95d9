// Permutohedral lattice on the CPU: a per-thread hash table per chunk of pixels (merged into one table afterwards)
// and blur neighbours precomputed at build; one OpenMP region per filter whose loops run over a compile-time value
// width where the width is a common one (8..32 floats: 21 VOC labels pad to 24).
//
// The splat scatters in pixel order, each thread into its own copy of the lattice values, and the copies are then
// summed in thread order. A gather per vertex (no copies) was tried first and was ~3x slower for the bilateral
// kernel: a vertex's pixels lie far apart in the image (sigma_xy ~ 100 px), so the gather reads label rows all
// over memory, while the scatter reads them in order and writes a lattice small enough to stay in cache.
#include "crf/permutohedral_lattice.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "crf/lattice_embedding.h"
#include "crf/lattice_key_grid.h"
#include "crf/lattice_rows.h"
#include "crf/simplex_lanes.h"

namespace atrous::crf {
namespace {

// Below this many pixels one thread builds the lattice (thread start-up would cost more than the hashing).
constexpr int64_t kParallelBuildPixels = 4096;
// Below this many floats of work per pass a filter runs on one thread: a filter has 2d+4 barriers, which cost more
// than small images' work, and far more when the machine is oversubscribed.
constexpr int64_t kParallelFilterFloats = 1 << 18;
// Scaled features beyond this would make lattice coordinates lose integer precision in float (2^24) once
// elevated and multiplied out: reject them rather than hash garbage.
constexpr float kMaxScaledFeature = float(1 << 20);

// Open-addressing hash table (linear probing) from d-coordinate lattice keys to dense indices 0..size-1. A slot
// holds the index and the upper half of the key's hash, so a probe that meets another key is mostly rejected
// without touching the key arrays (one cache miss per lookup instead of three).
class KeyTable {
 public:
  KeyTable(int d, int64_t expected) : d_(d) {
    int64_t capacity = 64;
    while (capacity < 2 * expected) capacity *= 2;
    slots_.assign(static_cast<size_t>(capacity), 0);
    mask_ = static_cast<uint64_t>(capacity - 1);
    keys_.reserve(static_cast<size_t>(expected * d));
    hashes_.reserve(static_cast<size_t>(expected));
  }

  int64_t size() const { return static_cast<int64_t>(hashes_.size()); }
  const int32_t* key(int64_t index) const { return keys_.data() + index * d_; }
  uint64_t hash(int64_t index) const { return hashes_[index]; }

  // The index of `key`, inserted if absent.
  int32_t insert(const int32_t* key, uint64_t hash) {
    if (2 * (size() + 1) > static_cast<int64_t>(slots_.size())) grow();
    const uint64_t tag = hash & ~uint64_t(0xFFFFFFFF);
    for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      const uint64_t entry = slots_[slot];
      if (entry == 0) {
        const int32_t index = static_cast<int32_t>(size());
        slots_[slot] = tag | static_cast<uint32_t>(index + 1);
        const size_t at = keys_.size();
        keys_.resize(at + d_);  // (vector::insert of a range was a fifth of the build's time)
        for (int i = 0; i < d_; ++i) keys_[at + i] = key[i];
        hashes_.push_back(hash);
        return index;
      }
      const int32_t index = static_cast<int32_t>(entry & 0xFFFFFFFF) - 1;
      if ((entry & ~uint64_t(0xFFFFFFFF)) == tag && same_key(index, key)) return index;
    }
  }

  void prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }

  // The index of `key`, or -1.
  int32_t find(const int32_t* key, uint64_t hash) const {
    const uint64_t tag = hash & ~uint64_t(0xFFFFFFFF);
    for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      const uint64_t entry = slots_[slot];
      if (entry == 0) return -1;
      const int32_t index = static_cast<int32_t>(entry & 0xFFFFFFFF) - 1;
      if ((entry & ~uint64_t(0xFFFFFFFF)) == tag && same_key(index, key)) return index;
    }
  }

 private:
  // A plain loop: keys are a few ints, where a memcmp call costs more than the comparison.
  bool same_key(int64_t index, const int32_t* key) const {
    const int32_t* stored = this->key(index);
    for (int i = 0; i < d_; ++i)
      if (stored[i] != key[i]) return false;
    return true;
  }

  void grow() {
    slots_.assign(slots_.size() * 2, 0);
    mask_ = slots_.size() - 1;
    for (int64_t index = 0; index < size(); ++index) {
      uint64_t slot = hashes_[index] & mask_;
      while (slots_[slot] != 0) slot = (slot + 1) & mask_;
      slots_[slot] = (hashes_[index] & ~uint64_t(0xFFFFFFFF)) | static_cast<uint32_t>(index + 1);
    }
  }

  int d_;
  std::vector<int32_t> keys_;
  std::vector<uint64_t> hashes_;
  std::vector<uint64_t> slots_;  // 0: empty; else hash's upper 32 bits | (index + 1)
  uint64_t mask_ = 0;
};

// ---- filter passes; S > 0 is the value width known at compile time, S == 0 reads it from `stride` ----

struct FilterArgs {
  const PermutohedralLattice* lattice;
  int d1;
  int64_t n, m, stride;
  const int32_t* vertex;
  const float* weight;
  float alpha;
  const float* in;
  const float* pre;
  const float* post;
  float* out;
  float* buffer_a;  // (m + 1) * stride each, row m zero
  float* buffer_b;
  float* thread_copies;  // (threads - 1) * m * stride: the other threads' splat targets
};

template <int S>
void run_filter(const FilterArgs& a, int threads) {
#pragma omp parallel num_threads(threads)
  {
    const int team = omp_get_num_threads(), t = omp_get_thread_num();
    float* mine = t == 0 ? a.buffer_a : a.thread_copies + (t - 1) * a.m * a.stride;
    std::fill(mine, mine + a.m * a.stride, 0.0f);
    for (int64_t i = a.n * t / team; i < a.n * (t + 1) / team; ++i)
      rows::splat<S>(a.d1, a.vertex + i * a.d1, a.weight + i * a.d1, a.pre ? a.pre[i] : 1.0f, a.in + i * a.stride,
                     a.stride, mine);
#pragma omp barrier
    sum_thread_copies(a.buffer_a, a.thread_copies, a.m * a.stride, team);
    const float* blurred = a.lattice->blur(a.buffer_a, a.buffer_b, a.stride);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < a.n; ++i) {
      float* dst = a.out + i * a.stride;
      std::fill(dst, dst + a.stride, 0.0f);  // out may alias in: every thread has finished splatting
      rows::slice_add<S>(a.d1, a.vertex + i * a.d1, a.weight + i * a.d1, a.post ? a.alpha * a.post[i] : a.alpha,
                         blurred, a.stride, dst);
    }
  }
}

template <int S>
void blur_directions(const PermutohedralLattice& lattice, float*& src, float*& dst, int64_t stride) {
  const int64_t m = lattice.num_points();
  for (int j = 0; j <= lattice.dims(); ++j) {
    const int32_t* neighbours = lattice.blur_neighbours() + static_cast<int64_t>(j) * m * 2;
#pragma omp for schedule(static)
    for (int64_t p = 0; p < m; p += 64) rows::blur<S>(p, std::min(p + 64, m), neighbours, src, stride, dst);
    std::swap(src, dst);
  }
}

// Embeds the points of runs [r0, r1): per point the ids of its simplex's d+1 corners (corner_id(key): an index into
// a thread's hash table, or a key grid's cell) and its barycentric weights. D > 0 is the dimension at compile time
// (the CRF's 2 and 5): every loop unrolls, and the simplices of eight points at a time are found in vector lanes
// (crf/simplex_lanes.h). D == 0 reads d and embeds point by point. Returns the first point whose features are not
// finite or too large, or -1.
template <int D, typename CornerId>
int64_t embed_points(const float* features, int d_runtime, const std::vector<PixelRun>& runs, int64_t r0, int64_t r1,
                     CornerId&& corner_id, int32_t* vertex, float* weight) {
  constexpr int kMax = D > 0 ? D : kMaxLatticeDims;
  const int d = D > 0 ? D : d_runtime, d1 = d + 1;
  float scale[kMax];
  for (int j = 0; j < d; ++j) scale[j] = lattice_axis_scale(d, j);
  EnclosingSimplex<kMax> simplex;
  float scaled[kMax];
  int32_t key[kMax];
  // Eight points' simplices at once where D is known and all eight are good.
  using Lanes = SimplexLanes<(D > 0 ? D : 1)>;
  Lanes lanes;
  typename Lanes::F scaled_lanes[D > 0 ? D : 1];
  // Neighbouring pixels often fall in the same simplex (features change slowly along a row): the previous pixel's
  // simplex and vertex indices answer those without hashing.
  int32_t previous_rem0[kMax + 1] = {}, previous_rank[kMax + 1] = {}, previous_vertex[kMax + 1] = {};
  bool have_previous = false;
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
      for (int l = 0; l < count; ++l) {
        const int64_t i = group + l;
        if (in_lanes) {
          if constexpr (D > 0) lanes.extract(l, simplex);
        } else {
          bool ok = true;
          for (int j = 0; j < d; ++j) {
            scaled[j] = features[i * d + j] * scale[j];
            ok = ok && std::isfinite(scaled[j]) && std::fabs(scaled[j]) < kMaxScaledFeature;
          }
          if (!ok) {
            if (first_bad < 0) first_bad = i;
            have_previous = false;
            for (int k = 0; k < d1; ++k) vertex[i * d1 + k] = 0, weight[i * d1 + k] = 0.0f;
            continue;
          }
          find_enclosing_simplex(d, scaled, simplex);
        }
        bool same_simplex = have_previous;
        for (int j = 0; j < d1; ++j)
          same_simplex = same_simplex && simplex.rem0[j] == previous_rem0[j] && simplex.rank[j] == previous_rank[j];
        for (int k = 0; k < d1; ++k) {
          if (!same_simplex) {
            simplex_vertex_key(d, simplex, k, key);
            previous_vertex[k] = corner_id(key);
          }
          vertex[i * d1 + k] = previous_vertex[k];
          weight[i * d1 + k] = simplex.barycentric[k];
        }
        for (int j = 0; j < d1; ++j) previous_rem0[j] = simplex.rem0[j], previous_rank[j] = simplex.rank[j];
        have_previous = true;
      }
    }
  }
  return first_bad;
}

}  // namespace

void sum_thread_copies(float* total, const float* copies, int64_t size, int team) {
  if (team <= 1) return;
#pragma omp for schedule(static)
  for (int64_t p = 0; p < size; p += 4096) {
    const int64_t end = std::min(p + 4096, size);
    for (int u = 1; u < team; ++u) {
      const float* copy = copies + (u - 1) * size;
#pragma omp simd
      for (int64_t e = p; e < end; ++e) total[e] += copy[e];
    }
  }
}

namespace {

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

// Runs embed_points on each thread's chunk of runs with the corner ids of corner_id_of(thread), and reports the first
// bad feature row.
template <typename CornerIdOf>
void embed_chunks(const float* features, int d, const std::vector<PixelRun>& runs, const std::vector<int64_t>& chunk,
                  CornerIdOf&& corner_id_of, int32_t* vertex, float* weight) {
  const int threads = static_cast<int>(chunk.size()) - 1;
  std::vector<int64_t> first_bad(threads, -1);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    auto corner_id = corner_id_of(t);
    switch (d) {
      case 2: first_bad[t] = embed_points<2>(features, d, runs, chunk[t], chunk[t + 1], corner_id, vertex, weight); break;
      case 5: first_bad[t] = embed_points<5>(features, d, runs, chunk[t], chunk[t + 1], corner_id, vertex, weight); break;
      default: first_bad[t] = embed_points<0>(features, d, runs, chunk[t], chunk[t + 1], corner_id, vertex, weight);
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

  std::optional<LatticeKeyGrid> grid;
  if (indexing != KeyIndexing::hashed) grid = LatticeKeyGrid::fit(features, n, d, kMaxGridCellsPerPoint);
  ATROUS_CHECK(grid || indexing != KeyIndexing::grid, "permutohedral lattice: the ", d,
               "-dimensional features' keys do not fit a grid of ", kMaxGridCellsPerPoint, " cells per point");
  if (grid) {
    lattice.build_on_grid(*grid, features, runs, chunk);
  } else {
    lattice.build_hashed(features, runs, chunk, chunk_points);
  }
  return lattice;
}

void PermutohedralLattice::build_hashed(const float* features, const std::vector<PixelRun>& runs,
                                        const std::vector<int64_t>& chunk, const std::vector<int64_t>& chunk_points) {
  const int d = d_, d1 = d_ + 1, threads = static_cast<int>(chunk_points.size());
  // 1. Each thread embeds a contiguous chunk of points and hashes their simplex corners into its own table, sized for
  //    a typical lattice (a few vertices per ten pixels) and grown on demand: a table sized for the worst case (d+1
  //    vertices per pixel) is mostly empty and misses the cache on every probe.
  std::vector<KeyTable> tables;
  tables.reserve(threads);
  for (int t = 0; t < threads; ++t) tables.emplace_back(d, chunk_points[t] / 4 + 64);
  embed_chunks(
      features, d, runs, chunk,
      [&tables, d](int t) {
        KeyTable* table = &tables[t];
        return [table, d](const int32_t* key) { return table->insert(key, lattice_key_hash(d, key)); };
      },
      vertex_.data(), weight_.data());

  // 2. Merge the per-thread tables (a few vertices per hundred pixels, so this sequential part is small). Thread 0's
  //    vertices keep their numbers, each later thread's new ones follow: first touch in visit order, as on one thread.
  int64_t local_total = 0;
  for (const KeyTable& table : tables) local_total += table.size();
  KeyTable global(d, threads == 1 ? 0 : local_total);
  std::vector<std::vector<int32_t>> to_global(threads);
  if (threads == 1) {
    global = std::move(tables[0]);
  } else {
    for (int t = 0; t < threads; ++t) {
      to_global[t].resize(tables[t].size());
      for (int64_t l = 0; l < tables[t].size(); ++l)
        to_global[t][l] = global.insert(tables[t].key(l), tables[t].hash(l));
    }
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      const int32_t* map = to_global[t].data();
      for (int64_t r = chunk[t]; r < chunk[t + 1]; ++r)
        for (int64_t e = runs[r].begin * d1; e < runs[r].end * d1; ++e) vertex_[e] = map[vertex_[e]];
    }
  }
  tables.clear();
  const int64_t m = global.size();
  m_ = m;

  // 3. Blur neighbours along each lattice direction j: the key moved by +-(d+1) e_j - (1, ..., 1) (paper sec. 3.2,
  //    the d+1 vectors that span the lattice); for j = d only the all-ones shift shows in the stored d coordinates.
  neighbours_ = HostArray<int32_t>(d1 * m * 2);
  //    A vertex's 2(d+1) lookups are independent: their hashes are computed and their slots prefetched first, so
  //    the cache misses overlap instead of queueing (the lookups were half of the bilateral lattice's build).
#pragma omp parallel for schedule(static) if (m > 4096)
  for (int64_t p = 0; p < m; ++p) {
    const int32_t* key = global.key(p);
    int32_t shifted[2 * (kMaxLatticeDims + 1)][kMaxLatticeDims];
    uint64_t hashes[2 * (kMaxLatticeDims + 1)];
    for (int j = 0; j < d1; ++j) {
      int32_t* left = shifted[2 * j];
      int32_t* right = shifted[2 * j + 1];
      for (int i = 0; i < d; ++i) {
        left[i] = key[i] - 1;
        right[i] = key[i] + 1;
      }
      if (j < d) {
        left[j] = key[j] + d;
        right[j] = key[j] - d;
      }
      hashes[2 * j] = lattice_key_hash(d, left);
      hashes[2 * j + 1] = lattice_key_hash(d, right);
      global.prefetch(hashes[2 * j]);
      global.prefetch(hashes[2 * j + 1]);
    }
    for (int e = 0; e < 2 * d1; ++e) {
      const int32_t found = global.find(shifted[e], hashes[e]);
      neighbours_[((e / 2) * m + p) * 2 + e % 2] = found < 0 ? static_cast<int32_t>(m) : found;
    }
  }
}

void PermutohedralLattice::build_on_grid(const LatticeKeyGrid& grid, const float* features,
                                         const std::vector<PixelRun>& runs, const std::vector<int64_t>& chunk) {
  const int d1 = d_ + 1;
  // 1. Each thread embeds its chunk; a corner's id is its key's grid cell.
  embed_chunks(
      features, d_, runs, chunk, [&grid](int) { return [&grid](const int32_t* key) { return grid.cell(key); }; },
      vertex_.data(), weight_.data());

  // 2. Number the cells the corners touch in visit order (first touch: the numbers the hashed build gives).
  std::vector<int32_t> vertex_of_cell(static_cast<size_t>(grid.cells()), -1);
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

  // 3. Blur neighbours: along each direction a fixed cell offset. The grid's margin keeps every neighbour inside it;
  //    checked once here rather than per lookup.
  neighbours_ = HostArray<int32_t>(d1 * m * 2);
  const auto [lowest, highest] = std::minmax_element(cell_of_vertex.begin(), cell_of_vertex.end());
  for (int j = 0; j < d1; ++j) {
    for (int side = 0; side < 2; ++side) {
      const int64_t offset = grid.neighbour_offset(j, side == 0 ? -1 : 1);
      ATROUS_CHECK(*lowest + offset >= 0 && *highest + offset < grid.cells(),
                   "permutohedral lattice: a blur neighbour falls outside the key grid (internal error)");
      int32_t* out = neighbours_.data() + j * m * 2 + side;
#pragma omp parallel for schedule(static) if (m > 4096)
      for (int64_t p = 0; p < m; ++p) {
        const int32_t found = vertex_of_cell[cell_of_vertex[p] + offset];
        out[p * 2] = found < 0 ? static_cast<int32_t>(m) : found;
      }
    }
  }
}

size_t PermutohedralLattice::memory_bytes() const { return vertex_.bytes() + weight_.bytes() + neighbours_.bytes(); }

float PermutohedralLattice::slice_scale() const { return 1.0f / (1.0f + std::pow(2.0f, -static_cast<float>(d_))); }

void PermutohedralLattice::filter(const float* in, float* out, int64_t stride, const float* pre_scale,
                                  const float* post_scale, HostArray<float>& scratch) const {
  ATROUS_CHECK(m_ > 0, "permutohedral lattice: filter called before build");
  ATROUS_CHECK(stride >= 1, "permutohedral lattice: value stride must be positive, got ", stride);
  const int64_t rows = m_ + 1;  // + the zero row that missing neighbours read
  const bool parallel = std::max(n_, m_) * stride > kParallelFilterFloats;
  const int threads = parallel ? std::max(1, omp_get_max_threads()) : 1;
  const int64_t need = (2 * rows + (threads - 1) * m_) * stride;
  if (scratch.size() < need) scratch = HostArray<float>(need);
  FilterArgs a{this,
               d_ + 1,
               n_,
               m_,
               stride,
               vertex_.data(),
               weight_.data(),
               slice_scale(),
               in,
               pre_scale,
               post_scale,
               out,
               scratch.data(),
               scratch.data() + rows * stride,
               scratch.data() + 2 * rows * stride};
  std::fill(a.buffer_a + m_ * stride, a.buffer_a + rows * stride, 0.0f);
  std::fill(a.buffer_b + m_ * stride, a.buffer_b + rows * stride, 0.0f);
  switch (stride) {
    case 1: run_filter<1>(a, threads); break;  // the normalisation's D = K 1
    case 8: run_filter<8>(a, threads); break;
    case 16: run_filter<16>(a, threads); break;
    case 24: run_filter<24>(a, threads); break;
    case 32: run_filter<32>(a, threads); break;
    default: run_filter<0>(a, threads); break;
  }
}

float* PermutohedralLattice::blur(float* values, float* spare, int64_t stride) const {
  switch (stride) {
    case 1: blur_directions<1>(*this, values, spare, stride); break;
    case 8: blur_directions<8>(*this, values, spare, stride); break;
    case 16: blur_directions<16>(*this, values, spare, stride); break;
    case 24: blur_directions<24>(*this, values, spare, stride); break;
    case 32: blur_directions<32>(*this, values, spare, stride); break;
    default: blur_directions<0>(*this, values, spare, stride); break;
  }
  return values;
}

}  // namespace atrous::crf
