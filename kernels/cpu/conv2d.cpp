// Convolution forward on the CPU: y = im2col(x) * w^T + bias, tile by tile of output pixels. Each thread owns whole
// tiles (its own column buffer, single-threaded GEMMs); measured faster here than sharing each GEMM between threads.
// A tile only multiplies the taps that fall inside the input for all its pixels (see plan_tiles). 1x1 stride-1
// unpadded convolutions skip im2col: NHWC x already is the [N*H*W, Cin] matrix. float weights are packed for the
// GEMM kernels once per call (kernels::PackedRhs), by all threads, rather than once per tile. 3x3 stride-1 float
// convolutions go to Winograd F(2x2, 3x3) instead where it does less work (conv2d_winograd.cpp; ConvAlgorithm).
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <type_traits>

#include "core/error.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/cpu/conv2d_winograd.h"
#include "kernels/gemm.h"

namespace atrous::kernels {
namespace conv2d_detail {
namespace {

// A run [begin, end) of output positions along one axis whose in-bounds taps are exactly [k_lo, k_hi).
struct Band {
  int64_t begin, end, k_lo, k_hi;
};

std::vector<Band> tap_bands(int64_t out, int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  std::vector<Band> bands;
  for (int64_t o = 0; o < out; ++o) {
    const int64_t first = o * stride - pad;  // input position of tap 0
    int64_t lo = first >= 0 ? 0 : ceil_div(-first, dilation);
    int64_t hi = first > in - 1 ? 0 : std::min(kernel, (in - 1 - first) / dilation + 1);
    if (hi <= lo) lo = hi = 0;  // sees only padding
    if (!bands.empty() && bands.back().k_lo == lo && bands.back().k_hi == hi) {
      bands.back().end = o + 1;
    } else {
      bands.push_back({o, o + 1, lo, hi});
    }
  }
  return bands;
}

struct ForwardPlan {
  int threads = 1;
  int64_t max_tile = 0;
  int64_t columns_per_thread = 0;  // im2col buffer
  int64_t outputs_per_thread = 0;  // staging for tiles whose rows are not consecutive in y
  int64_t packed_weights = 0;      // the weights packed for the GEMM kernels (float; used by the forward layout)
};

template <typename T>
ForwardPlan forward_plan(const Conv2dShape& s) {
  ForwardPlan plan;
  plan.threads = plan_threads(s);
  plan.max_tile = s.is_pointwise() ? kMaxTilePixels : budget_tile_pixels<T>(s.patch());
  plan.columns_per_thread = s.is_pointwise() ? 0 : plan.max_tile * s.patch();
  plan.outputs_per_thread = plan.max_tile * s.cout;
  if constexpr (std::is_same_v<T, float>) plan.packed_weights = PackedRhs::storage_floats(s.patch(), s.cout);
  return plan;
}

// out = a * w[:, k0:k1]^T (beta 0) or out += it (beta 1): from the packed weights when there are.
template <typename T>
void multiply_weights(const Conv2dShape& s, int64_t rows, int64_t k0, int64_t k1, const T* a, int64_t lda, const T* w,
                      const PackedRhs* packed, T beta, T* out, int64_t ldo) {
  if constexpr (std::is_same_v<T, float>) {
    if (packed) {
      gemm_packed_rhs(Transpose::no, rows, k0, k1, 1.0f, a, lda, *packed, beta, out, ldo);
      return;
    }
  }
  gemm<T>(Transpose::no, Transpose::yes, rows, s.cout, k1 - k0, T(1), a, lda, w + k0, s.patch(), beta, out, ldo);
}

// out [pixels, cout] (row stride ldo) = a * B over the tile's valid taps; a holds those taps' columns in patch order.
template <typename T>
void multiply_tile(const Conv2dShape& s, const Tile& t, const T* a, int64_t lda, const T* w, WeightLayout layout,
                   const PackedRhs* packed, T* out, int64_t ldo) {
  const int64_t cin = s.cin, cout = s.cout, taps = s.kh * s.kw;
  const int64_t rows = t.pixels(), kw_n = t.kw_hi - t.kw_lo;
  if (layout == WeightLayout::forward && kw_n == s.kw) {  // whole kernel rows: one contiguous block of w
    const int64_t k0 = t.kh_lo * s.kw * cin;
    multiply_weights(s, rows, k0, k0 + t.taps() * cin, a, lda, w, packed, T(0), out, ldo);
    return;
  }
  if (layout == WeightLayout::forward) {
    for (int64_t kh = t.kh_lo; kh < t.kh_hi; ++kh) {
      const int64_t j = kh - t.kh_lo, k0 = (kh * s.kw + t.kw_lo) * cin;
      multiply_weights(s, rows, k0, k0 + kw_n * cin, a + j * kw_n * cin, lda, w, packed, j == 0 ? T(0) : T(1), out,
                       ldo);
    }
    return;
  }
  int64_t j = 0;
  for (int64_t kh = t.kh_lo; kh < t.kh_hi; ++kh) {
    for (int64_t kw = t.kw_lo; kw < t.kw_hi; ++kw, ++j) {
      const int64_t tap = kh * s.kw + kw;
      gemm<T>(Transpose::no, Transpose::no, rows, cout, cin, T(1), a + j * cin, lda, w + (taps - 1 - tap) * cout,
              taps * cout, j == 0 ? T(0) : T(1), out, ldo);
    }
  }
}

template <typename T>
void forward_tile(const Conv2dShape& s, const Tile& t, const T* x, const T* w, WeightLayout layout,
                  const PackedRhs* packed, const ConvEpilogue<T>& epilogue, T* y, T* col, T* staging) {
  const int64_t cin = s.cin, cout = s.cout, rows = t.pixels();
  const bool direct = t.consecutive(s);
  T* out = direct ? y + t.first_pixel(s) * cout : staging;
  if (t.taps() == 0) {
    std::fill(out, out + rows * cout, T(0));
  } else {
    const int64_t kw_n = t.kw_hi - t.kw_lo, valid = t.taps() * cin;
    const T* a = x + t.first_pixel(s) * cin;
    if (!(s.is_pointwise() && direct)) {
      if (kw_n == s.kw) {
        im2col_columns(s, x, t, t.kh_lo * s.kw * cin, t.kh_hi * s.kw * cin, col, valid);
      } else {
        for (int64_t kh = t.kh_lo; kh < t.kh_hi; ++kh) {
          im2col_columns(s, x, t, (kh * s.kw + t.kw_lo) * cin, (kh * s.kw + t.kw_hi) * cin,
                         col + (kh - t.kh_lo) * kw_n * cin, valid);
        }
      }
      a = col;
    }
    multiply_tile(s, t, a, s.is_pointwise() && direct ? cin : valid, w, layout, packed, out, cout);
  }
  if (direct) {
    apply_epilogue(epilogue, rows, cout, out, t.first_pixel(s));
    return;
  }
  for (int64_t oy = t.oy0; oy < t.oy1; ++oy)  // the staged rows are runs of the output's rows, one per image row
    apply_epilogue(epilogue, t.width(), cout, out + (oy - t.oy0) * t.width() * cout,
                   (t.n * s.oh + oy) * s.ow + t.ox0);
  scatter_tile_rows(s, t, staging, cout, y);
}

}  // namespace

std::vector<Tile> plan_tiles(const Conv2dShape& s, int64_t max_pixels, int threads) {
  const std::vector<Band> rows = tap_bands(s.oh, s.h, s.kh, s.stride, s.pad_h, s.dilation);
  const std::vector<Band> cols = tap_bands(s.ow, s.w, s.kw, s.stride, s.pad_w, s.dilation);
  max_pixels = std::max<int64_t>(1, max_pixels);
  std::vector<Tile> tiles;
  for (int64_t n = 0; n < s.n; ++n) {
    for (const Band& yb : rows) {
      for (const Band& xb : cols) {
        Tile t{n, 0, 0, 0, 0, yb.k_lo, yb.k_hi, xb.k_lo, xb.k_hi};
        const int64_t height = yb.end - yb.begin, width = xb.end - xb.begin;
        if (width <= max_pixels) {  // whole-width strips of the cell, in equal pieces
          int64_t pieces = ceil_div(height, std::max<int64_t>(1, max_pixels / width));
          // A multiple of the thread count when the cell is split anyway or is a large share of the work: 5 equal
          // tiles on 2 threads would leave one idle for a fifth of the time.
          if (pieces > 1 || height * width * threads > s.oh * s.ow)
            pieces = std::min(height, ceil_div(pieces, threads) * threads);
          for (int64_t i = 0; i < pieces; ++i) {
            t.oy0 = yb.begin + height * i / pieces;
            t.oy1 = yb.begin + height * (i + 1) / pieces;
            t.ox0 = xb.begin;
            t.ox1 = xb.end;
            tiles.push_back(t);
          }
        } else {  // rows wider than a tile: equal pieces of each row
          const int64_t pieces = ceil_div(width, max_pixels);
          for (int64_t oy = yb.begin; oy < yb.end; ++oy) {
            for (int64_t i = 0; i < pieces; ++i) {
              t.oy0 = oy;
              t.oy1 = oy + 1;
              t.ox0 = xb.begin + width * i / pieces;
              t.ox1 = xb.begin + width * (i + 1) / pieces;
              tiles.push_back(t);
            }
          }
        }
      }
    }
  }
  std::stable_sort(tiles.begin(), tiles.end(), [](const Tile& a, const Tile& b) {
    return a.pixels() * std::max<int64_t>(1, a.taps()) > b.pixels() * std::max<int64_t>(1, b.taps());
  });
  return tiles;
}

template <typename T>
int64_t forward_tiles_workspace(const Conv2dShape& s) {
  const ForwardPlan plan = forward_plan<T>(s);
  return plan.threads * (plan.columns_per_thread + plan.outputs_per_thread) + plan.packed_weights;
}

template <typename T>
void forward_tiles(const Conv2dShape& s, const T* x, const T* w, WeightLayout layout, const ConvEpilogue<T>& epilogue,
                   T* y, T* workspace, int64_t workspace_elems) {
  const ForwardPlan plan = forward_plan<T>(s);
  const int64_t per_thread = plan.columns_per_thread + plan.outputs_per_thread;
  const int64_t tile_buffers = plan.threads * per_thread;
  ATROUS_CHECK(workspace_elems >= tile_buffers + plan.packed_weights, "conv2d forward: workspace of ",
               workspace_elems, " elements is smaller than the ", tile_buffers + plan.packed_weights, " needed");
  if (s.pixels() == 0) return;
  const std::vector<Tile> tiles = plan_tiles(s, plan.max_tile, plan.threads);
  const int64_t count = static_cast<int64_t>(tiles.size());
  std::optional<PackedRhs> packed;
  if constexpr (std::is_same_v<T, float>) {
    if (layout == WeightLayout::forward && plan.packed_weights > 0)
      packed.emplace(Transpose::yes, s.patch(), s.cout, w, s.patch(), workspace + tile_buffers, plan.packed_weights);
  }
  const int64_t slices = packed ? packed->slices() : 0;
#pragma omp parallel num_threads(plan.threads)
  {
    T* col = workspace + omp_get_thread_num() * per_thread;
    T* staging = col + plan.columns_per_thread;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < slices; ++i) packed->pack_slice(i);
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < count; ++i)
      forward_tile(s, tiles[i], x, w, layout, packed ? &*packed : nullptr, epilogue, y, col, staging);
  }
}

template int64_t forward_tiles_workspace<float>(const Conv2dShape&);
template int64_t forward_tiles_workspace<double>(const Conv2dShape&);
template void forward_tiles<float>(const Conv2dShape&, const float*, const float*, WeightLayout,
                                   const ConvEpilogue<float>&, float*, float*, int64_t);
template void forward_tiles<double>(const Conv2dShape&, const double*, const double*, WeightLayout,
                                    const ConvEpilogue<double>&, double*, double*, int64_t);

}  // namespace conv2d_detail

namespace {

ConvAlgorithm initial_conv_algorithm() {
  const char* chosen = std::getenv("ATROUS_CONV");
  if (!chosen || !*chosen || std::strcmp(chosen, "automatic") == 0) return ConvAlgorithm::automatic;
  if (std::strcmp(chosen, "winograd") == 0) return ConvAlgorithm::winograd;
  ATROUS_CHECK(std::strcmp(chosen, "im2col") == 0, "ATROUS_CONV=", chosen,
               ": unknown convolution algorithm (automatic, winograd, im2col)");
  return ConvAlgorithm::im2col;
}

std::atomic<ConvAlgorithm>& current_conv_algorithm() {
  static std::atomic<ConvAlgorithm> algorithm{initial_conv_algorithm()};
  return algorithm;
}

}  // namespace

ConvAlgorithm conv_algorithm() { return current_conv_algorithm().load(std::memory_order_relaxed); }

void set_conv_algorithm(ConvAlgorithm algorithm) {
  current_conv_algorithm().store(algorithm, std::memory_order_relaxed);
}

template <typename T>
int64_t conv2d_forward_workspace_cpu(const Conv2dShape& s) {
  if (conv2d_detail::uses_winograd<T>(s)) return conv2d_detail::winograd_workspace(s);
  return conv2d_detail::forward_tiles_workspace<T>(s);
}

template <typename T>
void conv2d_forward_cpu(const Conv2dShape& s, const T* x, const T* w, const ConvEpilogue<T>& epilogue, T* y,
                        T* workspace, int64_t workspace_elems) {
  ATROUS_CHECK((epilogue.mean != nullptr) == (epilogue.scale != nullptr) &&
                   (epilogue.scale != nullptr) == (epilogue.offset != nullptr),
               "conv2d forward: the epilogue's mean, scale and offset go together");
  if constexpr (std::is_same_v<T, float>) {
    if (conv2d_detail::uses_winograd<T>(s)) {
      conv2d_detail::winograd_forward(s, x, w, epilogue, y, workspace, workspace_elems);
      return;
    }
  }
  conv2d_detail::forward_tiles(s, x, w, conv2d_detail::WeightLayout::forward, epilogue, y, workspace, workspace_elems);
}

template <typename T>
void conv2d_forward_cpu(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y, T* workspace,
                        int64_t workspace_elems) {
  ConvEpilogue<T> epilogue;
  epilogue.bias = bias;
  conv2d_forward_cpu(s, x, w, epilogue, y, workspace, workspace_elems);
}

#define ATROUS_INSTANTIATE(T)                                                                                    \
  template int64_t conv2d_forward_workspace_cpu<T>(const Conv2dShape&);                                         \
  template void conv2d_forward_cpu<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, int64_t);       \
  template void conv2d_forward_cpu<T>(const Conv2dShape&, const T*, const T*, const ConvEpilogue<T>&, T*, T*, \
                                      int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
