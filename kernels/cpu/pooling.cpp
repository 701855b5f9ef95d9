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

}  // namespace

template <typename T>
void max_pool2d_forward_cpu(const T* x, Pool2dShape s, T* y, int32_t* argmax) {
  const int64_t C = s.channels;
#pragma omp parallel for collapse(2) num_threads(team_size(s.batch* s.out_h* s.out_w* C)) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oh = 0; oh < s.out_h; ++oh) {
      const int64_t h0 = oh * s.stride - s.padding;
      const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + s.kernel, s.in_h);
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        const int64_t w0 = ow * s.stride - s.padding;
        const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + s.kernel, s.in_w);
        const int64_t out_offset = ((n * s.out_h + oh) * s.out_w + ow) * C;
        T* __restrict best = y + out_offset;
        int32_t* __restrict where = argmax + out_offset;
        const int32_t first = static_cast<int32_t>(hs * s.in_w + ws);
        for (int64_t c = 0; c < C; ++c) {
          best[c] = -std::numeric_limits<T>::infinity();
          where[c] = first;
        }
        for (int64_t ih = hs; ih < he; ++ih) {
          for (int64_t iw = ws; iw < we; ++iw) {
            const T* __restrict in = x + ((n * s.in_h + ih) * s.in_w + iw) * C;
            const int32_t pos = static_cast<int32_t>(ih * s.in_w + iw);
            // Strict > keeps the first maximum; v != v lets NaN through as PyTorch does.
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) {
              const T v = in[c];
              const bool take = v > best[c] || v != v;
              best[c] = take ? v : best[c];
              where[c] = take ? pos : where[c];
            }
          }
        }
      }
    }
  }
}

template <typename T>
void max_pool2d_backward_cpu(const T* dy, const int32_t* argmax, Pool2dShape s, T* dx) {
  const int64_t C = s.channels;
#pragma omp parallel for collapse(2) num_threads(team_size(s.batch* s.in_h* s.in_w* C)) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t ih = 0; ih < s.in_h; ++ih) {
      const OutputRange rows = outputs_covering(ih, s.out_h, s);
      for (int64_t iw = 0; iw < s.in_w; ++iw) {
        const OutputRange cols = outputs_covering(iw, s.out_w, s);
        T* __restrict out = dx + ((n * s.in_h + ih) * s.in_w + iw) * C;
        const int32_t pos = static_cast<int32_t>(ih * s.in_w + iw);
        for (int64_t c = 0; c < C; ++c) out[c] = T(0);
        for (int64_t oh = rows.begin; oh < rows.end; ++oh) {
          for (int64_t ow = cols.begin; ow < cols.end; ++ow) {
            const int64_t o = ((n * s.out_h + oh) * s.out_w + ow) * C;
            const T* __restrict g = dy + o;
            const int32_t* __restrict where = argmax + o;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) out[c] += where[c] == pos ? g[c] : T(0);
          }
        }
      }
    }
  }
}

template <typename T>
void avg_pool2d_forward_cpu(const T* x, Pool2dShape s, bool count_include_pad, T* y) {
  const int64_t C = s.channels;
  const std::vector<int64_t> h_extent = window_extents(s.out_h, s.in_h, s, count_include_pad);
  const std::vector<int64_t> w_extent = window_extents(s.out_w, s.in_w, s, count_include_pad);
#pragma omp parallel for collapse(2) num_threads(team_size(s.batch* s.out_h* s.out_w* C)) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oh = 0; oh < s.out_h; ++oh) {
      const int64_t h0 = oh * s.stride - s.padding;
      const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + s.kernel, s.in_h);
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        const int64_t w0 = ow * s.stride - s.padding;
        const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + s.kernel, s.in_w);
        T* __restrict out = y + ((n * s.out_h + oh) * s.out_w + ow) * C;
        for (int64_t c = 0; c < C; ++c) out[c] = T(0);
        for (int64_t ih = hs; ih < he; ++ih) {
          for (int64_t iw = ws; iw < we; ++iw) {
            const T* __restrict in = x + ((n * s.in_h + ih) * s.in_w + iw) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) out[c] += in[c];
          }
        }
        const T divisor = static_cast<T>(h_extent[oh] * w_extent[ow]);
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) out[c] /= divisor;
      }
    }
  }
}

template <typename T>
void avg_pool2d_backward_cpu(const T* dy, Pool2dShape s, bool count_include_pad, T* dx) {
  const int64_t C = s.channels;
  const std::vector<int64_t> h_extent = window_extents(s.out_h, s.in_h, s, count_include_pad);
  const std::vector<int64_t> w_extent = window_extents(s.out_w, s.in_w, s, count_include_pad);
#pragma omp parallel for collapse(2) num_threads(team_size(s.batch* s.in_h* s.in_w* C)) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t ih = 0; ih < s.in_h; ++ih) {
      const OutputRange rows = outputs_covering(ih, s.out_h, s);
      for (int64_t iw = 0; iw < s.in_w; ++iw) {
        const OutputRange cols = outputs_covering(iw, s.out_w, s);
        T* __restrict out = dx + ((n * s.in_h + ih) * s.in_w + iw) * C;
        for (int64_t c = 0; c < C; ++c) out[c] = T(0);
        for (int64_t oh = rows.begin; oh < rows.end; ++oh) {
          for (int64_t ow = cols.begin; ow < cols.end; ++ow) {
            const T* __restrict g = dy + ((n * s.out_h + oh) * s.out_w + ow) * C;
            const T divisor = static_cast<T>(h_extent[oh] * w_extent[ow]);
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) out[c] += g[c] / divisor;
          }
        }
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
#pragma omp parallel for collapse(2) num_threads(team_size(batch* pixels* C)) schedule(static)
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
