// Pooling CPU kernels on NHWC data: every output pixel walks its window with a channel-contiguous inner loop;
// backward passes are gathers over the windows covering each input pixel, so threads never write the same dx.
#include "kernels/pooling.h"

#include <omp.h>

#include <algorithm>
#include <limits>
#include <vector>

namespace atrous::kernels {
namespace {

constexpr int64_t kParallelThreshold = 1 << 15;

int team_size(int64_t elements) { return elements > kParallelThreshold ? omp_get_max_threads() : 1; }

// Outputs o whose window [o*stride - padding, o*stride - padding + kernel) contains input position i.
struct OutputRange {
  int64_t begin, end;  // [begin, end)
};

OutputRange outputs_covering(int64_t i, int64_t out_size, const Pool2dShape& s) {
  const int64_t first_num = i + s.padding - s.kernel + 1;  // o*stride >= first_num
  const int64_t begin = first_num <= 0 ? 0 : (first_num + s.stride - 1) / s.stride;
  const int64_t end = std::min((i + s.padding) / s.stride + 1, out_size);
  return {begin, std::max(begin, end)};
}

// Divisor of each output row (or column) of an average pool: the window extent clipped to the padded input
// (count_include_pad) or to the input itself. A 2-D window's divisor is the product of its row and column factors.
std::vector<int64_t> window_extents(int64_t out_size, int64_t in_size, const Pool2dShape& s, bool include_pad) {
  std::vector<int64_t> extent(out_size);
  for (int64_t o = 0; o < out_size; ++o) {
    const int64_t start = o * s.stride - s.padding;
    const int64_t stop = std::min(start + s.kernel, in_size + s.padding);
    extent[o] = include_pad ? stop - start : std::min(stop, in_size) - std::max<int64_t>(start, 0);
  }
  return extent;
}

// Channels per register block: two 512-bit vectors of T.
template <typename T>
constexpr int64_t kBlock = 128 / sizeof(T);

// Max and first argmax over a window of rows x cols pixels starting at `corner`, for width <= kBlock channels,
// accumulated in local arrays. Strict > keeps the first maximum; v != v lets NaN through, as PyTorch does. `first`
// is the corner's index in the image plane.
template <typename T>
inline __attribute__((always_inline)) void max_window(const T* corner, int64_t rows, int64_t cols, int64_t row_stride,
                                                      int64_t pixel_stride, int32_t first, int64_t in_w, int64_t width,
                                                      T* __restrict y, int32_t* __restrict argmax) {
  T best[kBlock<T>];
  int32_t where[kBlock<T>];
  for (int64_t c = 0; c < width; ++c) {
    best[c] = -std::numeric_limits<T>::infinity();
    where[c] = first;
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t q = 0; q < cols; ++q) {
      const T* __restrict in = corner + r * row_stride + q * pixel_stride;
      const int32_t pos = first + static_cast<int32_t>(r * in_w + q);
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) {
        const T v = in[c];
        const bool take = v > best[c] || v != v;
        best[c] = take ? v : best[c];
        where[c] = take ? pos : where[c];
      }
    }
  }
  for (int64_t c = 0; c < width; ++c) {
    y[c] = best[c];
    argmax[c] = where[c];
  }
}

// Mean over a window of rows x cols pixels starting at `corner`, for width <= kBlock channels.
template <typename T>
inline __attribute__((always_inline)) void avg_window(const T* corner, int64_t rows, int64_t cols, int64_t row_stride,
                                                      int64_t pixel_stride, int64_t width, T divisor, T* __restrict y) {
  T acc[kBlock<T>];
  for (int64_t c = 0; c < width; ++c) acc[c] = T(0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t q = 0; q < cols; ++q) {
      const T* __restrict in = corner + r * row_stride + q * pixel_stride;
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) acc[c] += in[c];
    }
  }
  for (int64_t c = 0; c < width; ++c) y[c] = acc[c] / divisor;
}

// dx of one input pixel (`pos` in its image plane), width <= kBlock channels: the sum of dy over the covering
// outputs whose argmax is this pixel. dy and argmax point at the image's first output pixel.
template <typename T>
inline __attribute__((always_inline)) void max_gather(const T* dy, const int32_t* argmax, OutputRange rows,
                                                      OutputRange cols, int64_t out_w, int64_t pixel_stride,
                                                      int32_t pos, int64_t width, T* __restrict dx) {
  T acc[kBlock<T>];
  for (int64_t c = 0; c < width; ++c) acc[c] = T(0);
  for (int64_t oh = rows.begin; oh < rows.end; ++oh) {
    for (int64_t ow = cols.begin; ow < cols.end; ++ow) {
      const int64_t o = (oh * out_w + ow) * pixel_stride;
      const T* __restrict g = dy + o;
      const int32_t* __restrict where = argmax + o;
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) acc[c] += where[c] == pos ? g[c] : T(0);
    }
  }
  for (int64_t c = 0; c < width; ++c) dx[c] = acc[c];
}

// dx of one input pixel, width <= kBlock channels: sum of dy / divisor over the covering outputs.
template <typename T>
inline __attribute__((always_inline)) void avg_gather(const T* dy, OutputRange rows, OutputRange cols, int64_t out_w,
                                                      int64_t pixel_stride, const int64_t* h_extent,
                                                      const int64_t* w_extent, int64_t width, T* __restrict dx) {
  T acc[kBlock<T>];
  for (int64_t c = 0; c < width; ++c) acc[c] = T(0);
  for (int64_t oh = rows.begin; oh < rows.end; ++oh) {
    for (int64_t ow = cols.begin; ow < cols.end; ++ow) {
      const T* __restrict g = dy + (oh * out_w + ow) * pixel_stride;
      const T inv = T(1) / static_cast<T>(h_extent[oh] * w_extent[ow]);
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) acc[c] += g[c] * inv;
    }
  }
  for (int64_t c = 0; c < width; ++c) dx[c] = acc[c];
}

}  // namespace

template <typename T>
void max_pool2d_forward_cpu(const T* x, Pool2dShape s, T* y, int32_t* argmax) {
  const int64_t C = s.channels;
  const int threads = team_size(s.batch * s.out_h * s.out_w * C);
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oh = 0; oh < s.out_h; ++oh) {
      const int64_t h0 = oh * s.stride - s.padding;
      const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + s.kernel, s.in_h);
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        const int64_t w0 = ow * s.stride - s.padding;
        const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + s.kernel, s.in_w);
        const int64_t out_offset = ((n * s.out_h + oh) * s.out_w + ow) * C;
        const int32_t first = static_cast<int32_t>(hs * s.in_w + ws);
        const T* corner = x + ((n * s.in_h + hs) * s.in_w + ws) * C;
        // Full channel blocks get a compile-time width (after inlining), so the running max and argmax stay in
        // registers across the window's taps; the remainder runs the same code with a runtime width.
        int64_t c0 = 0;
        for (; c0 + kBlock<T> <= C; c0 += kBlock<T>)
          max_window<T>(corner + c0, he - hs, we - ws, s.in_w * C, C, first, s.in_w, kBlock<T>, y + out_offset + c0,
                        argmax + out_offset + c0);
        if (c0 < C)
          max_window<T>(corner + c0, he - hs, we - ws, s.in_w * C, C, first, s.in_w, C - c0, y + out_offset + c0,
                        argmax + out_offset + c0);
      }
    }
  }
}

template <typename T>
void max_pool2d_backward_cpu(const T* dy, const int32_t* argmax, Pool2dShape s, T* dx) {
  const int64_t C = s.channels;
  const int threads = team_size(s.batch * s.in_h * s.in_w * C);
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t ih = 0; ih < s.in_h; ++ih) {
      const OutputRange rows = outputs_covering(ih, s.out_h, s);
      for (int64_t iw = 0; iw < s.in_w; ++iw) {
        const OutputRange cols = outputs_covering(iw, s.out_w, s);
        T* out = dx + ((n * s.in_h + ih) * s.in_w + iw) * C;
        const int64_t image = n * s.out_h * s.out_w * C;
        const int32_t pos = static_cast<int32_t>(ih * s.in_w + iw);
        int64_t c0 = 0;
        for (; c0 + kBlock<T> <= C; c0 += kBlock<T>)
          max_gather<T>(dy + image + c0, argmax + image + c0, rows, cols, s.out_w, C, pos, kBlock<T>, out + c0);
        if (c0 < C) max_gather<T>(dy + image + c0, argmax + image + c0, rows, cols, s.out_w, C, pos, C - c0, out + c0);
      }
    }
  }
}

template <typename T>
void avg_pool2d_forward_cpu(const T* x, Pool2dShape s, bool count_include_pad, T* y) {
  const int64_t C = s.channels;
  const std::vector<int64_t> h_extent = window_extents(s.out_h, s.in_h, s, count_include_pad);
  const std::vector<int64_t> w_extent = window_extents(s.out_w, s.in_w, s, count_include_pad);
  const int threads = team_size(s.batch * s.out_h * s.out_w * C);
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oh = 0; oh < s.out_h; ++oh) {
      const int64_t h0 = oh * s.stride - s.padding;
      const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + s.kernel, s.in_h);
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        const int64_t w0 = ow * s.stride - s.padding;
        const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + s.kernel, s.in_w);
        T* out = y + ((n * s.out_h + oh) * s.out_w + ow) * C;
        const T* corner = x + ((n * s.in_h + hs) * s.in_w + ws) * C;
        const T divisor = static_cast<T>(h_extent[oh] * w_extent[ow]);
        int64_t c0 = 0;
        for (; c0 + kBlock<T> <= C; c0 += kBlock<T>)
          avg_window<T>(corner + c0, he - hs, we - ws, s.in_w * C, C, kBlock<T>, divisor, out + c0);
        if (c0 < C) avg_window<T>(corner + c0, he - hs, we - ws, s.in_w * C, C, C - c0, divisor, out + c0);
      }
    }
  }
}

template <typename T>
void avg_pool2d_backward_cpu(const T* dy, Pool2dShape s, bool count_include_pad, T* dx) {
  const int64_t C = s.channels;
  const std::vector<int64_t> h_extent = window_extents(s.out_h, s.in_h, s, count_include_pad);
  const std::vector<int64_t> w_extent = window_extents(s.out_w, s.in_w, s, count_include_pad);
  const int threads = team_size(s.batch * s.in_h * s.in_w * C);
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t ih = 0; ih < s.in_h; ++ih) {
      const OutputRange rows = outputs_covering(ih, s.out_h, s);
      for (int64_t iw = 0; iw < s.in_w; ++iw) {
        const OutputRange cols = outputs_covering(iw, s.out_w, s);
        T* out = dx + ((n * s.in_h + ih) * s.in_w + iw) * C;
        const T* image = dy + n * s.out_h * s.out_w * C;
        int64_t c0 = 0;
        for (; c0 + kBlock<T> <= C; c0 += kBlock<T>)
          avg_gather<T>(image + c0, rows, cols, s.out_w, C, h_extent.data(), w_extent.data(), kBlock<T>, out + c0);
        if (c0 < C)
          avg_gather<T>(image + c0, rows, cols, s.out_w, C, h_extent.data(), w_extent.data(), C - c0, out + c0);
      }
    }
  }
}

template <typename T>
void global_avg_pool_forward_cpu(const T* x, int64_t batch, int64_t pixels, int64_t channels, T* y) {
  const int64_t C = channels;
  const int threads = team_size(pixels * C);
  // Per-thread double partial sums over an even split of the pixels, added in thread order afterwards.
  std::vector<double> partial(static_cast<size_t>(threads) * C);
  for (int64_t n = 0; n < batch; ++n) {
    std::fill(partial.begin(), partial.end(), 0.0);
    const T* image = x + n * pixels * C;
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      double* __restrict acc = partial.data() + t * C;
      for (int64_t p = pixels * t / nt; p < pixels * (t + 1) / nt; ++p) {
        const T* __restrict in = image + p * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) acc[c] += static_cast<double>(in[c]);
      }
    }
    for (int64_t c = 0; c < C; ++c) {
      double total = 0.0;
      for (int t = 0; t < threads; ++t) total += partial[t * C + c];
      y[n * C + c] = static_cast<T>(total / static_cast<double>(pixels));
    }
  }
}

template <typename T>
void global_avg_pool_backward_cpu(const T* dy, int64_t batch, int64_t pixels, int64_t channels, T* dx) {
  const int64_t C = channels;
  const T inv = static_cast<T>(1.0 / static_cast<double>(pixels));
  const int threads = team_size(batch * pixels * C);
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t p = 0; p < pixels; ++p) {
      const T* __restrict g = dy + n * C;
      T* __restrict out = dx + (n * pixels + p) * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) out[c] = g[c] * inv;
    }
  }
}

#define ATROUS_INSTANTIATE(T)                                                            \
  template void max_pool2d_forward_cpu<T>(const T*, Pool2dShape, T*, int32_t*);          \
  template void max_pool2d_backward_cpu<T>(const T*, const int32_t*, Pool2dShape, T*);   \
  template void avg_pool2d_forward_cpu<T>(const T*, Pool2dShape, bool, T*);              \
  template void avg_pool2d_backward_cpu<T>(const T*, Pool2dShape, bool, T*);             \
  template void global_avg_pool_forward_cpu<T>(const T*, int64_t, int64_t, int64_t, T*); \
  template void global_avg_pool_backward_cpu<T>(const T*, int64_t, int64_t, int64_t, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
