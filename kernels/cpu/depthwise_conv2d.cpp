// Depthwise convolution on the CPU, direct: each output pixel's channel vector accumulates, tap by tap, the input
// pixel's channel vector times that tap's weights. Weights are first copied tap-major ([KH*KW, Cout]) so that every
// inner loop runs over contiguous channels (the compiler vectorises it). Threads take whole output (or input) rows,
// so no two threads write the same element.
#include "kernels/depthwise_conv2d.h"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace atrous::kernels {
namespace {

// Below this many multiply-adds a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 15;

template <typename T>
std::vector<T> tap_major(const Conv2dShape& s, const T* w) {
  const int64_t taps = s.kh * s.kw;
  std::vector<T> wt(size_t(taps * s.cout));
  for (int64_t co = 0; co < s.cout; ++co)
    for (int64_t t = 0; t < taps; ++t) wt[size_t(t * s.cout + co)] = w[co * taps + t];
  return wt;
}

int threads_for(int64_t work) { return work > kParallelThreshold ? std::max(1, omp_get_max_threads()) : 1; }

// out[c*m + j] += in[c] * wk[c*m + j] over Cin channels.
template <typename T>
inline void multiply_add(const T* __restrict__ in, const T* __restrict__ wk, T* __restrict__ out, int64_t cin,
                         int64_t m) {
  if (m == 1) {
#pragma omp simd
    for (int64_t c = 0; c < cin; ++c) out[c] += in[c] * wk[c];
    return;
  }
  for (int64_t c = 0; c < cin; ++c)
    for (int64_t j = 0; j < m; ++j) out[c * m + j] += in[c] * wk[c * m + j];
}

}  // namespace

template <typename T>
void depthwise_conv2d_forward_cpu(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cin = s.cin, cout = s.cout, m = depthwise_multiplier(s);
  const std::vector<T> wt = tap_major(s, w);
  const int64_t rows = s.n * s.oh;
#pragma omp parallel for schedule(static) num_threads(threads_for(s.pixels() * cout * s.kh * s.kw))
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / s.oh, oh = row % s.oh;
    for (int64_t ow = 0; ow < s.ow; ++ow) {
      T* __restrict__ out = y + (row * s.ow + ow) * cout;
      for (int64_t co = 0; co < cout; ++co) out[co] = bias ? bias[co] : T(0);
      for (int64_t kh = 0; kh < s.kh; ++kh) {
        const int64_t ih = oh * s.stride - s.pad_h + kh * s.dilation;
        if (ih < 0 || ih >= s.h) continue;
        for (int64_t kw = 0; kw < s.kw; ++kw) {
          const int64_t iw = ow * s.stride - s.pad_w + kw * s.dilation;
          if (iw < 0 || iw >= s.w) continue;
          multiply_add(x + ((n * s.h + ih) * s.w + iw) * cin, wt.data() + (kh * s.kw + kw) * cout, out, cin, m);
        }
      }
    }
  }
}

template <typename T>
void depthwise_conv2d_backward_data_cpu(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int64_t cin = s.cin, cout = s.cout, m = depthwise_multiplier(s);
  const std::vector<T> wt = tap_major(s, w);
  const int64_t rows = s.n * s.h;
  // Gather: input pixel (ih, iw) received tap (kh, kw) from the output pixel with oh * stride = ih + pad - kh * d.
  auto source = [&](int64_t i, int64_t k, int64_t pad, int64_t out_size) -> int64_t {
    const int64_t num = i + pad - k * s.dilation;
    if (num < 0 || num % s.stride != 0) return -1;
    const int64_t o = num / s.stride;
    return o < out_size ? o : -1;
  };
#pragma omp parallel for schedule(static) num_threads(threads_for(s.pixels() * cout * s.kh * s.kw))
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / s.h, ih = row % s.h;
    for (int64_t iw = 0; iw < s.w; ++iw) {
      T* __restrict__ out = dx + (row * s.w + iw) * cin;
      std::fill(out, out + cin, T(0));
      for (int64_t kh = 0; kh < s.kh; ++kh) {
        const int64_t oh = source(ih, kh, s.pad_h, s.oh);
        if (oh < 0) continue;
        for (int64_t kw = 0; kw < s.kw; ++kw) {
          const int64_t ow = source(iw, kw, s.pad_w, s.ow);
          if (ow < 0) continue;
          const T* __restrict__ g = dy + ((n * s.oh + oh) * s.ow + ow) * cout;
          const T* __restrict__ wk = wt.data() + (kh * s.kw + kw) * cout;
          if (m == 1) {
#pragma omp simd
            for (int64_t c = 0; c < cin; ++c) out[c] += g[c] * wk[c];
          } else {
            for (int64_t c = 0; c < cin; ++c)
              for (int64_t j = 0; j < m; ++j) out[c] += g[c * m + j] * wk[c * m + j];
          }
        }
      }
    }
  }
}

template <typename T>
void depthwise_conv2d_backward_weight_cpu(const Conv2dShape& s, const T* dy, const T* x, T* dw) {
  const int64_t cin = s.cin, cout = s.cout, m = depthwise_multiplier(s), taps = s.kh * s.kw;
  const int64_t rows = s.n * s.oh;
  // A fixed number of chunks (not one per thread) keeps the summation order, and so the bits, thread-independent.
  const int64_t chunks = std::min<int64_t>(rows, 64);
  std::vector<T> partial(size_t(chunks * taps * cout), T(0));  // [chunk][tap][Cout]
#pragma omp parallel for schedule(static) num_threads(threads_for(s.pixels() * cout * taps))
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    T* acc = partial.data() + chunk * taps * cout;
    for (int64_t row = rows * chunk / chunks; row < rows * (chunk + 1) / chunks; ++row) {
      const int64_t n = row / s.oh, oh = row % s.oh;
      for (int64_t ow = 0; ow < s.ow; ++ow) {
        const T* __restrict__ g = dy + (row * s.ow + ow) * cout;
        for (int64_t kh = 0; kh < s.kh; ++kh) {
          const int64_t ih = oh * s.stride - s.pad_h + kh * s.dilation;
          if (ih < 0 || ih >= s.h) continue;
          for (int64_t kw = 0; kw < s.kw; ++kw) {
            const int64_t iw = ow * s.stride - s.pad_w + kw * s.dilation;
            if (iw < 0 || iw >= s.w) continue;
            const T* __restrict__ in = x + ((n * s.h + ih) * s.w + iw) * cin;
            T* __restrict__ a = acc + (kh * s.kw + kw) * cout;
            if (m == 1) {
#pragma omp simd
              for (int64_t c = 0; c < cin; ++c) a[c] += g[c] * in[c];
            } else {
              for (int64_t c = 0; c < cin; ++c)
                for (int64_t j = 0; j < m; ++j) a[c * m + j] += g[c * m + j] * in[c];
            }
          }
        }
      }
    }
  }
  for (int64_t co = 0; co < cout; ++co) {
    for (int64_t t = 0; t < taps; ++t) {
      double total = 0.0;
      for (int64_t chunk = 0; chunk < chunks; ++chunk) total += partial[size_t((chunk * taps + t) * cout + co)];
      dw[co * taps + t] = static_cast<T>(total);
    }
  }
}

#define ATROUS_INSTANTIATE(T)                                                                                  \
  template void depthwise_conv2d_forward_cpu<T>(const Conv2dShape&, const T*, const T*, const T*, T*);         \
  template void depthwise_conv2d_backward_data_cpu<T>(const Conv2dShape&, const T*, const T*, T*);             \
  template void depthwise_conv2d_backward_weight_cpu<T>(const Conv2dShape&, const T*, const T*, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
