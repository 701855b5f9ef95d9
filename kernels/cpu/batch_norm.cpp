// Batch-norm CPU kernels on [rows, C] (NHWC) data: channel-contiguous inner loops, OpenMP over row blocks with
// per-thread double partial sums reduced in thread order afterwards (no atomics, deterministic per thread count).
#include "kernels/batch_norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace atrous::kernels {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelThreshold = 1 << 15;

int team_size(int64_t elements) { return elements > kParallelThreshold ? omp_get_max_threads() : 1; }

// Runs accumulate(row_begin, row_end, acc) on an even split of the rows among threads, each with its own zeroed
// `width` doubles, and returns their sum. Partials are added in thread order, so the result does not depend on
// scheduling.
template <typename Accumulate>
std::vector<double> reduce_rows(int64_t rows, int64_t width, int threads, Accumulate accumulate) {
  std::vector<double> partial(static_cast<size_t>(width) * threads, 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = rows * t / nt, end = rows * (t + 1) / nt;
    if (begin < end) accumulate(begin, end, partial.data() + t * width);
  }
  std::vector<double> total(partial.begin(), partial.begin() + width);
  for (int t = 1; t < threads; ++t)
    for (int64_t i = 0; i < width; ++i) total[i] += partial[t * width + i];
  return total;
}

}  // namespace

template <typename T>
void batch_norm_train_forward_cpu(const T* x, const T* weight, const T* bias, BatchNormShape s, double eps,
                                  double momentum, T* y, T* save_mean, T* save_invstd, T* running_mean,
                                  T* running_var) {
  const int64_t rows = s.rows, C = s.channels;
  const int threads = team_size(rows * C);
  // Moments around the first row: sum(x - x0) and sum((x - x0)^2) avoid the cancellation of sum(x^2) - M*mean^2
  // when |mean| >> std, and stay single-pass.
  const T* shift = x;
  const std::vector<double> sums = reduce_rows(rows, 2 * C, threads, [&](int64_t begin, int64_t end, double* acc) {
    double* __restrict sum = acc;
    double* __restrict sum_sq = acc + C;
    for (int64_t r = begin; r < end; ++r) {
      const T* __restrict row = x + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        const double d = static_cast<double>(row[c]) - static_cast<double>(shift[c]);
        sum[c] += d;
        sum_sq[c] += d * d;
      }
    }
  });

  const double m = static_cast<double>(rows);
  for (int64_t c = 0; c < C; ++c) {
    const double d_mean = sums[c] / m;
    const double var = std::max(sums[C + c] / m - d_mean * d_mean, 0.0);
    const double mean = static_cast<double>(shift[c]) + d_mean;
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(1.0 / std::sqrt(var + eps));
    if (running_mean) {
      const double unbiased = var * m / (m - 1.0);
      running_mean[c] = static_cast<T>((1.0 - momentum) * running_mean[c] + momentum * mean);
      running_var[c] = static_cast<T>((1.0 - momentum) * running_var[c] + momentum * unbiased);
    }
  }
  batch_norm_apply_cpu(x, save_mean, save_invstd, weight, bias, s, y);
}

template <typename T>
void batch_norm_invstd_cpu(const T* var, int64_t channels, double eps, T* invstd) {
  for (int64_t c = 0; c < channels; ++c) invstd[c] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(var[c]) + eps));
}

template <typename T>
void batch_norm_apply_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, BatchNormShape s,
                          T* y) {
  const int64_t rows = s.rows, C = s.channels;
  // (x - mean) * scale + bias rather than x * scale + shift: the subtraction is exact-ish for x near the mean, so
  // f32 outputs keep their precision when |mean| >> std.
  std::vector<T> scale(C), offset(C);
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = invstd[c] * (weight ? weight[c] : T(1));
    offset[c] = bias ? bias[c] : T(0);
  }
  const T* __restrict sc = scale.data();
  const T* __restrict off = offset.data();
  const int threads = team_size(rows * C);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict in = x + r * C;
    T* __restrict out = y + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) out[c] = (in[c] - mean[c]) * sc[c] + off[c];
  }
}

template <typename T>
void batch_norm_backward_cpu(const T* dy, const T* x, const T* weight, const T* mean, const T* invstd, BatchNormShape s,
                             bool batch_stats, T* dx, T* dweight, T* dbias) {
  const int64_t rows = s.rows, C = s.channels;
  const int threads = team_size(rows * C);
  const bool need_sums = dweight || dbias || (dx && batch_stats);
  std::vector<double> sums;  // [sum dy | sum dy*(x - mean)]
  if (need_sums) {
    sums = reduce_rows(rows, 2 * C, threads, [&](int64_t begin, int64_t end, double* acc) {
      double* __restrict sum_dy = acc;
      double* __restrict sum_dy_xmu = acc + C;
      for (int64_t r = begin; r < end; ++r) {
        const T* __restrict g = dy + r * C;
        const T* __restrict in = x + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) {
          const double gd = static_cast<double>(g[c]);
          sum_dy[c] += gd;
          sum_dy_xmu[c] += gd * (static_cast<double>(in[c]) - static_cast<double>(mean[c]));
        }
      }
    });
    for (int64_t c = 0; c < C; ++c) {
      if (dweight) dweight[c] = static_cast<T>(sums[C + c] * static_cast<double>(invstd[c]));
      if (dbias) dbias[c] = static_cast<T>(sums[c]);
    }
  }
  if (!dx) return;

  // dx = (dy - mean(dy) - (x - mean) * invstd^2 * mean(dy * (x - mean))) * weight * invstd in train mode.
  std::vector<T> gain(C), centre(C, T(0)), slope(C, T(0));
  for (int64_t c = 0; c < C; ++c) {
    const double is = static_cast<double>(invstd[c]);
    gain[c] = static_cast<T>(is * (weight ? static_cast<double>(weight[c]) : 1.0));
    if (batch_stats) {
      centre[c] = static_cast<T>(sums[c] / static_cast<double>(rows));
      slope[c] = static_cast<T>(is * is * sums[C + c] / static_cast<double>(rows));
    }
  }
  const T* __restrict a = gain.data();
  const T* __restrict k = slope.data();
  const T* __restrict b = centre.data();
  if (!batch_stats) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const T* __restrict g = dy + r * C;
      T* __restrict out = dx + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) out[c] = g[c] * a[c];
    }
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict g = dy + r * C;
    const T* __restrict in = x + r * C;
    T* __restrict out = dx + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) out[c] = (g[c] - b[c] - (in[c] - mean[c]) * k[c]) * a[c];
  }
}

#define ATROUS_INSTANTIATE(T)                                                                                          \
  template void batch_norm_train_forward_cpu<T>(const T*, const T*, const T*, BatchNormShape, double, double, T*, T*,  \
                                                T*, T*, T*);                                                           \
  template void batch_norm_invstd_cpu<T>(const T*, int64_t, double, T*);                                               \
  template void batch_norm_apply_cpu<T>(const T*, const T*, const T*, const T*, const T*, BatchNormShape, T*);         \
  template void batch_norm_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, BatchNormShape, bool, T*, \
                                           T*, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)

}  // namespace atrous::kernels
