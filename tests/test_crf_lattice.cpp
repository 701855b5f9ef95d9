// Permutohedral lattice: the simplex embedding (barycentric weights reconstruct the elevated point), the filter
// against a naive std::map lattice (same math, no hashing, threads or value widths), against exact Gaussian
// filtering (relative error bounds, d = 2 and 5), densecrf's impulse response, thread counts, the tile visit order
// (renumbers vertices, changes no result), bad input.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "crf/exact_gaussian_filter.h"
#include "crf/lattice_embedding.h"
#include "crf/permutohedral_lattice.h"
#include "crf/simplex_lanes.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::crf;

namespace {

std::vector<float> random_values(int64_t count, uint32_t seed, float low = -1.0f, float high = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = dist(gen);
  return v;
}

// Image-like features: (x, y) / sigma_xy, then an RGB of two flat regions with noise / sigma_rgb when d == 5.
std::vector<float> image_features(int height, int width, int d, float sigma_xy, float sigma_rgb, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0f, 4.0f);
  std::vector<float> f;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      f.push_back(x / sigma_xy);
      f.push_back(y / sigma_xy);
      if (d == 5) {
        const bool inside =
            (x - width / 2) * (x - width / 2) + (y - height / 2) * (y - height / 2) < height * height / 8;
        const float base[3] = {inside ? 200.0f : 40.0f, inside ? 60.0f : 120.0f, inside ? 90.0f : 30.0f};
        for (int c = 0; c < 3; ++c) f.push_back((base[c] + noise(gen)) / sigma_rgb);
      }
    }
  }
  return f;
}

// The naive lattice: std::map keyed by the full vertex, scatter-splat in double, blur by lookups, slice.
std::vector<float> naive_lattice_filter(const std::vector<float>& features, int64_t n, int d,
                                        const std::vector<float>& in, int64_t stride) {
  using Key = std::vector<int32_t>;
  std::map<Key, std::vector<double>> lattice;
  std::vector<std::vector<std::pair<Key, float>>> corners(static_cast<size_t>(n));
  EnclosingSimplex<kMaxLatticeDims> s;
  for (int64_t i = 0; i < n; ++i) {
    float scaled[kMaxLatticeDims];
    for (int j = 0; j < d; ++j) scaled[j] = features[i * d + j] * lattice_axis_scale(d, j);
    find_enclosing_simplex(d, scaled, s);
    for (int k = 0; k <= d; ++k) {
      Key key(static_cast<size_t>(d));
      simplex_vertex_key(d, s, k, key.data());
      auto& v = lattice[key];
      v.resize(static_cast<size_t>(stride), 0.0);
      for (int64_t c = 0; c < stride; ++c) v[c] += s.barycentric[k] * in[i * stride + c];
      corners[i].emplace_back(key, s.barycentric[k]);
    }
  }
  for (int j = 0; j <= d; ++j) {
    std::map<Key, std::vector<double>> next;
    for (const auto& [key, v] : lattice) {
      std::vector<double> out = v;
      for (int side = 0; side < 2; ++side) {
        Key nb = key;
        for (int i = 0; i < d; ++i) nb[i] += side == 0 ? -1 : 1;
        if (j < d) nb[j] = key[j] + (side == 0 ? d : -d);
        auto it = lattice.find(nb);
        if (it != lattice.end())
          for (int64_t c = 0; c < stride; ++c) out[c] += 0.5 * it->second[c];
      }
      next[key] = out;
    }
    lattice.swap(next);
  }
  const double alpha = 1.0 / (1.0 + std::pow(2.0, -d));
  std::vector<float> out(static_cast<size_t>(n * stride), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < stride; ++c) {
      double acc = 0.0;
      for (const auto& [key, w] : corners[i]) acc += w * lattice.at(key)[c];
      out[i * stride + c] = static_cast<float>(alpha * acc);
    }
  }
  return out;
}

double relative_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

std::vector<float> lattice_filter(const PermutohedralLattice& lattice, const std::vector<float>& in, int64_t stride,
                                  const float* pre = nullptr, const float* post = nullptr) {
  HostArray<float> scratch;
  std::vector<float> out(in.size());
  lattice.filter(in.data(), out.data(), stride, pre, post, scratch);
  return out;
}

}  // namespace

TEST(CrfLattice, BarycentricWeightsReconstructTheElevatedPoint) {
  for (int d : {1, 2, 3, 5, 8, 16}) {
    std::mt19937 gen(17 + d);
    std::uniform_real_distribution<float> dist(-30.0f, 30.0f);
    for (int trial = 0; trial < 200; ++trial) {
      float scaled[kMaxLatticeDims];
      for (int j = 0; j < d; ++j) scaled[j] = dist(gen);
      // Elevation written as the matrix E: feature j adds to coordinates 0..j and takes (j+1) times itself from j+1.
      std::vector<double> elevated(d + 1, 0.0);
      for (int j = 0; j < d; ++j) {
        for (int i = 0; i <= j; ++i) elevated[i] += scaled[j];
        elevated[j + 1] -= (j + 1) * double(scaled[j]);
      }
      EnclosingSimplex<kMaxLatticeDims> s;
      find_enclosing_simplex(d, scaled, s);
      std::vector<double> rebuilt(d + 1, 0.0);
      double weight_sum = 0.0;
      for (int k = 0; k <= d; ++k) {
        EXPECT_GE(s.barycentric[k], -1e-4f) << "d=" << d << " k=" << k;  // inside the simplex
        weight_sum += s.barycentric[k];
        int32_t key[kMaxLatticeDims];
        simplex_vertex_key(d, s, k, key);
        int64_t last = 0;
        for (int i = 0; i < d; ++i) {
          EXPECT_EQ(((key[i] - k) % (d + 1) + (d + 1)) % (d + 1), 0) << "vertex " << k << " is not remainder-" << k;
          last -= key[i];
          rebuilt[i] += s.barycentric[k] * key[i];
        }
        rebuilt[d] += s.barycentric[k] * last;  // the coordinates of a lattice point sum to zero
      }
      EXPECT_NEAR(weight_sum, 1.0, 1e-5);
      for (int i = 0; i <= d; ++i) EXPECT_NEAR(rebuilt[i], elevated[i], 2e-3 * (1 + std::fabs(elevated[i])));
    }
  }
}

TEST(CrfLattice, MatchesNaiveMapLattice) {
  for (int d : {2, 5}) {
    const int h = 13, w = 17;
    const std::vector<float> f = image_features(h, w, d, 2.5f, 15.0f, 5);
    const PermutohedralLattice lattice = PermutohedralLattice::build(f.data(), h * w, d);
    EXPECT_GT(lattice.num_points(), 0);
    for (int64_t stride : {1, 3, 8, 24}) {
      const std::vector<float> in = random_values(h * w * stride, 11 + stride);
      const std::vector<float> expected = naive_lattice_filter(f, h * w, d, in, stride);
      const std::vector<float> got = lattice_filter(lattice, in, stride);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], expected[i], 1e-4 * (1 + std::fabs(expected[i]))) << "d=" << d << " stride=" << stride;
    }
  }
}

TEST(CrfLattice, PreAndPostScalesAndInPlace) {
  const int h = 9, w = 11, d = 2;
  const std::vector<float> f = image_features(h, w, d, 2.0f, 1.0f, 1);
  const PermutohedralLattice lattice = PermutohedralLattice::build(f.data(), h * w, d);
  const std::vector<float> in = random_values(h * w * 8, 3);
  const std::vector<float> pre = random_values(h * w, 4, 0.5f, 2.0f), post = random_values(h * w, 5, 0.5f, 2.0f);
  std::vector<float> scaled_in = in;
  for (int i = 0; i < h * w; ++i)
    for (int c = 0; c < 8; ++c) scaled_in[i * 8 + c] *= pre[i];
  std::vector<float> expected = lattice_filter(lattice, scaled_in, 8);
  for (int i = 0; i < h * w; ++i)
    for (int c = 0; c < 8; ++c) expected[i * 8 + c] *= post[i];
  std::vector<float> inout = in;
  HostArray<float> scratch;
  lattice.filter(inout.data(), inout.data(), 8, pre.data(), post.data(), scratch);
  for (size_t i = 0; i < inout.size(); ++i) EXPECT_NEAR(inout[i], expected[i], 1e-5 * (1 + std::fabs(expected[i])));
}

// The lattice only approximates the Gaussian: its kernel has a somewhat different mass than the exact one (more so
// in d = 5), which the CRF's normalisation cancels. So the raw sums are checked up to one global scale (which must
// itself stay in a band), and normalised filtering of a smooth signal directly. A broken embedding scale, blur or
// slice constant moves these far out.
struct ApproximationError {
  double mass_ratio;        // mean of lattice / exact kernel sums
  double scaled_raw_error;  // relative L2 error of the kernel sums after the best global scale
  double normalised_error;  // relative L2 error of (K v) / (K 1)
};

ApproximationError approximation_error(const std::vector<float>& f, int h, int w, int d) {
  const int n = h * w;
  const PermutohedralLattice lattice = PermutohedralLattice::build(f.data(), n, d);
  // Values: ones, and a smooth signal varying over a few sigmas.
  std::vector<float> in(n * 2);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      in[(y * w + x) * 2] = 1.0f, in[(y * w + x) * 2 + 1] = std::sin(x * 0.3f) + std::cos(y * 0.2f);
  std::vector<float> exact(n * 2);
  exact_gaussian_filter(f.data(), n, d, in.data(), exact.data(), 2, nullptr, nullptr);
  const std::vector<float> lat = lattice_filter(lattice, in, 2);
  std::vector<float> lat_ones(n), exact_ones(n), lat_norm(n), exact_norm(n);
  double ratio = 0.0, dot = 0.0, norm2 = 0.0;
  for (int i = 0; i < n; ++i) {
    lat_ones[i] = lat[i * 2], exact_ones[i] = exact[i * 2];
    lat_norm[i] = lat[i * 2 + 1] / lat[i * 2], exact_norm[i] = exact[i * 2 + 1] / exact[i * 2];
    ratio += lat_ones[i] / exact_ones[i];
    dot += double(lat_ones[i]) * exact_ones[i], norm2 += double(lat_ones[i]) * lat_ones[i];
  }
  for (float& v : lat_ones) v = static_cast<float>(v * dot / norm2);
  return {ratio / n, relative_l2(lat_ones, exact_ones), relative_l2(lat_norm, exact_norm)};
}

TEST(CrfLattice, ApproximatesExactGaussianFilteringD2) {
  const int h = 40, w = 36;
  const ApproximationError e = approximation_error(image_features(h, w, 2, 3.0f, 1.0f, 0), h, w, 2);
  std::printf("d=2: mass ratio %.3f, scaled raw error %.4f, normalised error %.4f\n", e.mass_ratio, e.scaled_raw_error,
              e.normalised_error);
  EXPECT_GT(e.mass_ratio, 0.8);
  EXPECT_LT(e.mass_ratio, 1.0);
  EXPECT_LT(e.scaled_raw_error, 0.04);
  EXPECT_LT(e.normalised_error, 0.05);
}

TEST(CrfLattice, ApproximatesExactGaussianFilteringD5) {
  const int h = 30, w = 32;
  const ApproximationError e = approximation_error(image_features(h, w, 5, 5.0f, 30.0f, 2), h, w, 5);
  std::printf("d=5: mass ratio %.3f, scaled raw error %.4f, normalised error %.4f\n", e.mass_ratio, e.scaled_raw_error,
              e.normalised_error);
  EXPECT_GT(e.mass_ratio, 0.4);
  EXPECT_LT(e.mass_ratio, 0.8);
  EXPECT_LT(e.scaled_raw_error, 0.1);
  EXPECT_LT(e.normalised_error, 0.08);
}

// densecrf's lattice, measured (REFERENCE.md): a sigma-3 impulse gives ~0.755 at the centre, ~0.503 at 3 px and
// nothing beyond ~10 px.
TEST(CrfLattice, ImpulseResponseLikeDensecrf) {
  const int h = 41, w = 41, d = 2;
  const std::vector<float> f = image_features(h, w, d, 3.0f, 1.0f, 0);
  const PermutohedralLattice lattice = PermutohedralLattice::build(f.data(), h * w, d);
  std::vector<float> impulse(h * w, 0.0f);
  impulse[20 * w + 20] = 1.0f;
  const std::vector<float> out = lattice_filter(lattice, impulse, 1);
  std::printf("impulse: centre %.4f, 3 px %.4f %.4f, 6 px %.4f, 10 px %.4f, 12 px %.4f\n", out[20 * w + 20],
              out[20 * w + 23], out[23 * w + 20], out[20 * w + 26], out[20 * w + 30], out[20 * w + 32]);
  EXPECT_NEAR(out[20 * w + 20], 0.755, 0.05);
  EXPECT_NEAR(out[20 * w + 23], 0.503, 0.08);
  EXPECT_LT(out[20 * w + 32], 1e-6);
}

// Threads split the splat between copies of the lattice: the same thread count gives the same bits, another count
// differs by float rounding only.
TEST(CrfLattice, ThreadCountsAgree) {
  const int h = 96, w = 80, d = 5;  // above the parallel thresholds
  const std::vector<float> f = image_features(h, w, d, 8.0f, 10.0f, 9);
  const std::vector<float> in = random_values(h * w * 24, 21);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const PermutohedralLattice one = PermutohedralLattice::build(f.data(), h * w, d);
  const std::vector<float> out_one = lattice_filter(one, in, 24);
  omp_set_num_threads(3);
  const PermutohedralLattice three = PermutohedralLattice::build(f.data(), h * w, d);
  const std::vector<float> out_three = lattice_filter(three, in, 24);
  const std::vector<float> again = lattice_filter(three, in, 24);
  omp_set_num_threads(saved);
  ASSERT_EQ(one.num_points(), three.num_points());
  // The threads' tables merge into the numbering one thread gives: the same vertex of every corner, the same
  // blur neighbours.
  const int64_t corners = int64_t(h) * w * (d + 1), neighbours = (d + 1) * one.num_points() * 2;
  EXPECT_TRUE(std::equal(one.vertex_of_pixel(), one.vertex_of_pixel() + corners, three.vertex_of_pixel()));
  EXPECT_TRUE(std::equal(one.blur_neighbours(), one.blur_neighbours() + neighbours, three.blur_neighbours()));
  EXPECT_EQ(out_three, again);
  for (size_t i = 0; i < out_one.size(); ++i) ASSERT_NEAR(out_one[i], out_three[i], 1e-5 * (1 + std::fabs(out_one[i])));
}

TEST(CrfLattice, VisitOrderRenumbersVerticesOnly) {
  // Tiles that do not divide the image; above the parallel thresholds on 2 threads.
  const int h = 150, w = 100, d = 5;
  const std::vector<float> f = image_features(h, w, d, 8.0f, 10.0f, 31);
  const std::vector<float> in = random_values(h * w * 16, 32);
  const std::vector<PixelRun> tiles = tile_order(h, w);
  ASSERT_EQ(tiles.front().begin, 0);
  ASSERT_EQ(tiles.front().end, kPixelTile);  // the first tile's first row, then its second
  ASSERT_EQ(tiles[1].begin, w);
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    const PermutohedralLattice raster = PermutohedralLattice::build(f.data(), h * w, d);
    const PermutohedralLattice tiled = PermutohedralLattice::build(f.data(), h * w, d, tiles);
    EXPECT_EQ(raster.num_points(), tiled.num_points());
    // The pixel at the origin is the first visited either way: its vertices are the first numbers.
    EXPECT_LT(tiled.vertex_of_pixel()[0], d + 1);
    // Pixel (0, 64), the second tile's first, is visited 65th in raster order, after the whole first tile in tile
    // order: the vertices it is the first to touch get later numbers.
    const int64_t corner = int64_t(kPixelTile) * (d + 1);
    const int32_t* early = raster.vertex_of_pixel() + corner;
    const int32_t* late = tiled.vertex_of_pixel() + corner;
    EXPECT_LT(*std::max_element(early, early + d + 1), *std::max_element(late, late + d + 1));
    const std::vector<float> a = lattice_filter(raster, in, 16), b = lattice_filter(tiled, in, 16);
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5 * (1 + std::fabs(a[i])));
  }
  omp_set_num_threads(saved);
  std::vector<PixelRun> twice = tiles;
  twice.back().end = twice.back().begin + 1;
  twice.push_back({0, 1});
  atrous::testing::expect_error([&] { PermutohedralLattice::build(f.data(), h * w, d, twice); }, {"point 0 twice"});
  std::vector<PixelRun> short_of_one = tiles;
  --short_of_one.back().end;
  atrous::testing::expect_error([&] { PermutohedralLattice::build(f.data(), h * w, d, short_of_one); },
                                {"never visits point", std::to_string(h * w - 1)});
  atrous::testing::expect_error([&] { PermutohedralLattice::build(f.data(), h * w, d, {{0, h * w + 1}}); },
                                {"outside the"});
}

template <int D>
void expect_lanes_match_scalar(uint32_t seed) {
  // Random points, points on the lattice's planes (integers and halves of the scaled coordinates: rounding ties and
  // rank ties) and negative ones.
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> uniform(-300.0f, 300.0f);
  std::uniform_int_distribution<int> integer(-40, 40);
  for (int trial = 0; trial < 3000; ++trial) {
    typename SimplexLanes<D>::F scaled[D];
    for (int l = 0; l < kSimplexLanes; ++l)
      for (int j = 0; j < D; ++j)
        scaled[j][l] = trial % 3 == 0 ? uniform(gen) : trial % 3 == 1 ? integer(gen) : integer(gen) * 0.5f;
    SimplexLanes<D> lanes;
    find_enclosing_simplices<D>(scaled, lanes);
    for (int l = 0; l < kSimplexLanes; ++l) {
      float point[D];
      for (int j = 0; j < D; ++j) point[j] = scaled[j][l];
      EnclosingSimplex<D> scalar, lane;
      find_enclosing_simplex(D, point, scalar);
      lanes.extract(l, lane);
      for (int i = 0; i <= D; ++i) {
        ASSERT_EQ(lane.rem0[i], scalar.rem0[i]) << "D " << D << " trial " << trial << " lane " << l;
        ASSERT_EQ(lane.rank[i], scalar.rank[i]) << "D " << D << " trial " << trial << " lane " << l;
        // Weights up to float rounding: the compiler fuses multiply-adds of the scalar code that the lanes' selects
        // keep apart, and an elevated coordinate of ~300 carries an ulp of 3e-5.
        ASSERT_NEAR(lane.barycentric[i], scalar.barycentric[i], 1e-4f)
            << "D " << D << " trial " << trial << " lane " << l;
      }
    }
  }
}

TEST(CrfLattice, SimplicesInVectorLanesAreTheScalarOnes) {
  expect_lanes_match_scalar<2>(51);
  expect_lanes_match_scalar<5>(52);
}

TEST(CrfLattice, KeyGridGivesTheHashedLatticeNumbersIncluded) {
  // The spatial kernel's features (d = 2) at DeepLab's sigma (3 px) and at 1.5 px (about twice the vertices),
  // in tile order and index order, on 1 and 2 threads (above the parallel build threshold): the grid must number
  // vertices, weigh corners and link blur neighbours exactly as the hash table does.
  const int h = 90, w = 130, d = 2;
  const std::vector<PixelRun> tiles = tile_order(h, w);
  const std::vector<float> sigma3 = image_features(h, w, d, 3.0f, 1.0f, 41);
  const std::vector<float> sigma15 = image_features(h, w, d, 1.5f, 1.0f, 41);
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const std::vector<float>* features : {&sigma3, &sigma15}) {
      const std::vector<float>& f = *features;
      for (const std::vector<PixelRun>& order : {tiles, std::vector<PixelRun>{}}) {
        const auto grid = PermutohedralLattice::build(f.data(), h * w, d, order, KeyIndexing::grid);
        const auto hashed = PermutohedralLattice::build(f.data(), h * w, d, order, KeyIndexing::keys);
        ASSERT_EQ(grid.num_points(), hashed.num_points());
        const int64_t corners = int64_t(h) * w * (d + 1), links = grid.num_points() * (d + 1) * 2;
        ASSERT_TRUE(std::equal(grid.vertex_of_pixel(), grid.vertex_of_pixel() + corners, hashed.vertex_of_pixel()));
        ASSERT_TRUE(std::equal(grid.weight_of_pixel(), grid.weight_of_pixel() + corners, hashed.weight_of_pixel()));
        ASSERT_TRUE(std::equal(grid.blur_neighbours(), grid.blur_neighbours() + links, hashed.blur_neighbours()));
      }
    }
  }
  omp_set_num_threads(saved);
  // Features spread far apart leave the grid mostly empty: automatic hashes them, a forced grid is refused.
  std::vector<float> spread = random_values(200 * 2, 42, -1000.0f, 1000.0f);
  atrous::testing::expect_error([&] { PermutohedralLattice::build(spread.data(), 200, 2, {}, KeyIndexing::grid); },
                                {"do not fit a grid"});
  EXPECT_GT(PermutohedralLattice::build(spread.data(), 200, 2).num_points(), 0);
}

TEST(CrfLattice, BadInputIsAnError) {
  std::vector<float> f = image_features(4, 4, 2, 1.0f, 1.0f, 0);
  atrous::testing::expect_error([&] { PermutohedralLattice::build(f.data(), 16, 0); }, {"feature dimension 0"});
  atrous::testing::expect_error([&] { PermutohedralLattice::build(f.data(), 1, 17); }, {"feature dimension 17"});
  atrous::testing::expect_error([&] { PermutohedralLattice::build(f.data(), 0, 2); }, {"at least one point"});
  f[7] = std::nanf("");
  atrous::testing::expect_error([&] { PermutohedralLattice::build(f.data(), 16, 2); }, {"feature row 3", "not finite"});
  f[7] = 1e30f;  // what a sigma of ~0 produces
  atrous::testing::expect_error([&] { PermutohedralLattice::build(f.data(), 16, 2); }, {"feature row 3", "too large"});
  PermutohedralLattice empty;
  HostArray<float> scratch;
  float x = 0;
  atrous::testing::expect_error([&] { empty.filter(&x, &x, 1, nullptr, nullptr, scratch); }, {"before build"});
}
