// Winograd F(2x2, 3x3) forward (see conv2d_winograd.h). With the matrices of Lavin & Gray,
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1],
// a 2x2 output tile of channel k is A^T [sum_c (G g_kc G^T) .* (B^T d_c B)] A, d_c the 4x4 input patch of channel c.
// Per block of tiles: every tile's 16 transformed values per input channel (V), then for each of the 16 elements e
// one GEMM M_e = V_e [tiles, Cin] x U_e^T [Cin, Cout] with the transformed weights U packed once per call, then the
// output transform and the epilogue. Blocks go to the threads dynamically; each has its own V and M.
#include "kernels/cpu/conv2d_winograd.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/gemm.h"

namespace atrous::kernels::conv2d_detail {
namespace {

constexpr int kElems = 16;  // values of a transformed 4x4 tile
// A thread's V and M together (16 x tiles x (Cin + Cout) floats) stay about this size. Every block reads all of the
// packed U (16 x Cin x Cout, 17 MB for 512 channels), so blocks larger than L2 pay for themselves by reading it fewer
// times: 8 MB and 128 tiles measured 3-5% faster than 4 MB and 96 on 512-channel layers at 41x41 and 65x65, 3-4% on
// DeepLab-LargeFOV's training step, for ~8 MB more workspace (16 MB and 256 tiles: 8% on the layers, no more on the
// models, twice the memory).
constexpr int64_t kBlockBudgetBytes = int64_t(8) << 20;
constexpr int64_t kMinBlockTiles = 24, kMaxBlockTiles = 128;

// The first output of each tile along an axis of `out` outputs; a tile's second output is d further (and may lie
// past the end: then it is computed and dropped). Pairs (o, o + d) cover every output once.
std::vector<int64_t> tile_origins(int64_t out, int64_t d) {
  std::vector<int64_t> origins;
  for (int64_t base = 0; base < out; base += 2 * d)
    for (int64_t r = 0; r < d && base + r < out; ++r) origins.push_back(base + r);
  return origins;
}

int64_t tile_count(const Conv2dShape& s) {
  return s.n * static_cast<int64_t>(tile_origins(s.oh, s.dilation).size() * tile_origins(s.ow, s.dilation).size());
}

struct Plan {
  int threads = 1;
  int64_t block_tiles = 0;
  int64_t unpacked = 0;     // 16 x Cin x Cout: U as plain matrices, which PackedRhs packs
  int64_t packed_each = 0;  // PackedRhs storage per element
  int64_t per_thread = 0;   // V and M of one block
};

Plan make_plan(const Conv2dShape& s) {
  Plan p;
  p.threads = plan_threads(s);
  const int64_t fit = kBlockBudgetBytes / (kElems * (s.cin + s.cout) * int64_t(sizeof(float)));
  // Equal blocks, as many as a multiple of the threads: at 41x41 (441 tiles) blocks of 96 left one of two threads
  // idle for a fifth of the layer.
  const int64_t most = std::clamp(fit, kMinBlockTiles, kMaxBlockTiles), tiles = tile_count(s);
  const int64_t blocks_per_thread = ceil_div(ceil_div(tiles, most), p.threads);
  p.block_tiles = std::max<int64_t>(1, ceil_div(tiles, blocks_per_thread * p.threads));
  p.unpacked = kElems * s.cin * s.cout;
  p.packed_each = PackedRhs::storage_floats(s.cin, s.cout);
  p.per_thread = kElems * p.block_tiles * (s.cin + s.cout);
  return p;
}

// U_e = G g G^T for e = 4i + j, stored [Cout][Cin] like w[Cout][3][3][Cin] (the GEMM takes it transposed), so
// that both are read and written along Cin: output channels [k0, k1).
void transform_weights(const Conv2dShape& s, const float* w, int64_t k0, int64_t k1, float* u) {
  const int64_t cin = s.cin, plane = s.cout * cin;
  for (int64_t k = k0; k < k1; ++k) {
    const float* g = w + k * 9 * cin;  // g[(3 * kh + kw) * cin + c]
    float* out = u + k * cin;
#pragma omp simd
    for (int64_t c = 0; c < cin; ++c) {
      float q[3][4];  // each kernel row times G^T
      for (int r = 0; r < 3; ++r) {
        const float a = g[(3 * r) * cin + c], b = g[(3 * r + 1) * cin + c], e = g[(3 * r + 2) * cin + c];
        q[r][0] = a;
        q[r][1] = 0.5f * (a + b + e);
        q[r][2] = 0.5f * (a - b + e);
        q[r][3] = e;
      }
      for (int j = 0; j < 4; ++j) {  // G times the rows
        out[(0 * 4 + j) * plane + c] = q[0][j];
        out[(1 * 4 + j) * plane + c] = 0.5f * (q[0][j] + q[1][j] + q[2][j]);
        out[(2 * 4 + j) * plane + c] = 0.5f * (q[0][j] - q[1][j] + q[2][j]);
        out[(3 * 4 + j) * plane + c] = q[2][j];
      }
    }
  }
}

struct TileGrid {
  std::vector<int64_t> ys, xs;  // tile origins per axis
  int64_t count(int64_t n) const { return n * static_cast<int64_t>(ys.size() * xs.size()); }
  // Image, first output row and column of tile t.
  void locate(int64_t t, int64_t& n, int64_t& oy, int64_t& ox) const {
    const int64_t per_image = static_cast<int64_t>(ys.size() * xs.size());
    n = t / per_image;
    oy = ys[(t % per_image) / xs.size()];
    ox = xs[(t % per_image) % xs.size()];
  }
};

// V[e][t][c] of tile t (of `tiles` in the block) from its 4x4 input patch, rows of Cin; patch pixels outside the
// image read `zeros`.
void transform_input(const Conv2dShape& s, const float* x, const float* zeros, int64_t n, int64_t oy, int64_t ox,
                     int64_t t, int64_t tiles, float* v) {
  const int64_t cin = s.cin, d = s.dilation;
  const float* p[4][4];
  for (int i = 0; i < 4; ++i) {
    const int64_t iy = oy - s.pad_h + i * d;
    for (int j = 0; j < 4; ++j) {
      const int64_t ix = ox - s.pad_w + j * d;
      const bool inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
      p[i][j] = inside ? x + ((n * s.h + iy) * s.w + ix) * cin : zeros;
    }
  }
  float* out[kElems];
  for (int e = 0; e < kElems; ++e) out[e] = v + (e * tiles + t) * cin;
#pragma omp simd
  for (int64_t c = 0; c < cin; ++c) {
    float r[4][4];  // each patch row times B
    for (int i = 0; i < 4; ++i) {
      r[i][0] = p[i][0][c] - p[i][2][c];
      r[i][1] = p[i][1][c] + p[i][2][c];
      r[i][2] = p[i][2][c] - p[i][1][c];
      r[i][3] = p[i][1][c] - p[i][3][c];
    }
    for (int j = 0; j < 4; ++j) {  // B^T times the rows
      out[0 * 4 + j][c] = r[0][j] - r[2][j];
      out[1 * 4 + j][c] = r[1][j] + r[2][j];
      out[2 * 4 + j][c] = r[2][j] - r[1][j];
      out[3 * 4 + j][c] = r[1][j] - r[3][j];
    }
  }
}

// The 2x2 outputs of tile t from M[e][t][k], with the epilogue; outputs past the image's edge are dropped.
void transform_output(const Conv2dShape& s, const float* m, int64_t t, int64_t tiles, int64_t n, int64_t oy,
                      int64_t ox, const ConvEpilogue<float>& epilogue, float* y) {
  const int64_t cout = s.cout, d = s.dilation;
  const float* in[kElems];
  for (int e = 0; e < kElems; ++e) in[e] = m + (e * tiles + t) * cout;
  float* out[2][2];
  int64_t pixel[2][2];
  bool valid[2][2];
  for (int a = 0; a < 2; ++a) {
    for (int b = 0; b < 2; ++b) {
      const int64_t py = oy + a * d, px = ox + b * d;
      valid[a][b] = py < s.oh && px < s.ow;
      pixel[a][b] = (n * s.oh + py) * s.ow + px;
      out[a][b] = valid[a][b] ? y + pixel[a][b] * cout : nullptr;
    }
  }
  for (int64_t k0 = 0; k0 < cout; k0 += 64) {
    const int64_t k1 = std::min(k0 + 64, cout);
    float result[2][2][64];
#pragma omp simd
    for (int64_t k = k0; k < k1; ++k) {
      float r[4][2];  // each row of M times A
      for (int i = 0; i < 4; ++i) {
        r[i][0] = in[i * 4 + 0][k] + in[i * 4 + 1][k] + in[i * 4 + 2][k];
        r[i][1] = in[i * 4 + 1][k] - in[i * 4 + 2][k] - in[i * 4 + 3][k];
      }
      for (int b = 0; b < 2; ++b) {  // A^T times the rows
        result[0][b][k - k0] = r[0][b] + r[1][b] + r[2][b];
        result[1][b][k - k0] = r[1][b] - r[2][b] - r[3][b];
      }
    }
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b)
        if (valid[a][b]) std::copy(result[a][b], result[a][b] + (k1 - k0), out[a][b] + k0);
  }
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      if (valid[a][b]) apply_epilogue(epilogue, 1, cout, out[a][b], pixel[a][b]);
}

// The transforms' work per transformed value, counted in multiply-adds of the GEMMs (they are a few additions, but
// run from memory rather than from registers), and im2col's copy per value it copies.
constexpr double kTransformCost = 4.0, kIm2colCopyCost = 1.0;
// Every block of tiles reads all of the packed U; once U is larger than the caches share, each block's read comes
// from memory, at about this many multiply-adds per value. Measured on a 2-core Xeon VM: LargeFOV's fc6 (512 -> 1024
// channels, rate 12 at 41x41, U 34 MB read by 8 blocks) took 119 ms by Winograd against 86 ms by im2col although its
// GEMMs multiply 6% less; a 512 -> 512 layer at rate 2 (U 17 MB, 4 blocks) 17.5 ms against 28.9 ms.
constexpr double kUMemoryReadCost = 20.0;
constexpr int64_t kUCachedBytes = int64_t(4) << 20;

// Kernel taps inside the input, summed over the outputs of one axis: what im2col multiplies along it.
int64_t valid_taps(int64_t out, int64_t in, int64_t pad, int64_t d) {
  int64_t taps = 0;
  for (int64_t o = 0; o < out; ++o)
    for (int64_t k = 0; k < 3; ++k) taps += o - pad + k * d >= 0 && o - pad + k * d < in;
  return taps;
}

}  // namespace

bool winograd_pays(const Conv2dShape& s) {
  const double im2col = double(valid_taps(s.oh, s.h, s.pad_h, s.dilation)) *
                        double(valid_taps(s.ow, s.w, s.pad_w, s.dilation)) * (1.0 + kIm2colCopyCost / s.cout);
  const int64_t tiles = tile_count(s);  // over the batch
  const bool u_in_memory = kElems * s.cin * s.cout * int64_t(sizeof(float)) > kUCachedBytes;
  const double u_reads = u_in_memory ? double(kElems) * double(ceil_div(tiles, make_plan(s).block_tiles)) : 0.0;
  const double winograd =
      double(tiles) * kElems * (1.0 + kTransformCost / s.cout + kTransformCost / s.cin) + u_reads * kUMemoryReadCost;
  return winograd < s.n * im2col;
}

bool winograd_applies(const Conv2dShape& s) {
  return s.kh == 3 && s.kw == 3 && s.stride == 1 && s.pad_h >= 0 && s.pad_w >= 0 && s.dilation >= 1 &&
         s.cin >= kWinogradMinChannels && s.cout >= kWinogradMinChannels;
}

int64_t winograd_workspace(const Conv2dShape& s) {
  const Plan p = make_plan(s);
  return p.unpacked + kElems * p.packed_each + s.cin + p.threads * p.per_thread;
}

void winograd_forward(const Conv2dShape& s, const float* x, const float* w, const ConvEpilogue<float>& epilogue,
                      float* y, float* workspace, int64_t workspace_elems) {
  ATROUS_CHECK(winograd_applies(s), "conv2d forward: Winograd F(2x2, 3x3) does not apply to a ", s.kh, "x", s.kw,
               " stride-", s.stride, " convolution with ", s.cin, " -> ", s.cout, " channels");
  const Plan plan = make_plan(s);
  ATROUS_CHECK(workspace_elems >= winograd_workspace(s), "conv2d forward: workspace of ", workspace_elems,
               " elements is smaller than the ", winograd_workspace(s), " needed");
  if (s.pixels() == 0) return;
  float* u = workspace;
  float* packed_storage = u + plan.unpacked;
  float* zeros = packed_storage + kElems * plan.packed_each;
  float* blocks = zeros + s.cin;
  std::fill(zeros, zeros + s.cin, 0.0f);
  std::vector<PackedRhs> packed;
  for (int e = 0; e < kElems; ++e)
    packed.emplace_back(Transpose::yes, s.cin, s.cout, u + e * s.cin * s.cout, s.cin,
                        packed_storage + e * plan.packed_each, plan.packed_each);
  const int64_t slices = packed[0].slices();

  const TileGrid grid{tile_origins(s.oh, s.dilation), tile_origins(s.ow, s.dilation)};
  const int64_t tiles = grid.count(s.n), block_count = ceil_div(tiles, plan.block_tiles);
#pragma omp parallel num_threads(plan.threads)
  {
#pragma omp for schedule(static)
    for (int64_t k = 0; k < s.cout; k += 16) transform_weights(s, w, k, std::min(k + 16, s.cout), u);
#pragma omp for schedule(static) collapse(2)
    for (int e = 0; e < kElems; ++e)
      for (int64_t i = 0; i < slices; ++i) packed[e].pack_slice(i);
    float* v = blocks + omp_get_thread_num() * plan.per_thread;
    float* m = v + kElems * plan.block_tiles * s.cin;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < block_count; ++b) {
      const int64_t t0 = b * plan.block_tiles, count = std::min(plan.block_tiles, tiles - t0);
      int64_t n, oy, ox;
      for (int64_t t = 0; t < count; ++t) {
        grid.locate(t0 + t, n, oy, ox);
        transform_input(s, x, zeros, n, oy, ox, t, count, v);
      }
      for (int e = 0; e < kElems; ++e)
        gemm_packed_rhs(Transpose::no, count, 0, s.cin, 1.0f, v + e * count * s.cin, s.cin, packed[e], 0.0f,
                        m + e * count * s.cout, s.cout);
      for (int64_t t = 0; t < count; ++t) {
        grid.locate(t0 + t, n, oy, ox);
        transform_output(s, m, t, count, n, oy, ox, epilogue, y);
      }
    }
  }
}

}  // namespace atrous::kernels::conv2d_detail
