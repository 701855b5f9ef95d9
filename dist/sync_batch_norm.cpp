// Sync BN computes on the host in double-precision sums: per rank the per-channel sum and sum of squares (forward)
// and the sums of dy and dy * (x - mean) (backward), all-reduced with the element count. The local weight and bias
// gradients stay local: the trainer's gradient all-reduce sums them over ranks like every other gradient.
#include "dist/sync_batch_norm.h"

#include <omp.h>

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "kernels/batch_norm.h"

namespace atrous::dist {
namespace {

constexpr const char* kOp = "sync_batch_norm";

// Per-channel sums over the rows of two [rows, C] arrays: out[c] += f(a[r,c], b[r,c]) in double, threads summing
// contiguous row ranges whose partial sums are added in thread order (deterministic for a thread count).
template <typename T, typename F>
void channel_sums(const T* a, const T* b, int64_t rows, int64_t channels, double* out, F f) {
  const int threads = std::max(1, std::min<int>(omp_get_max_threads(), static_cast<int>(rows / 1024) + 1));
  std::vector<double> partial(static_cast<size_t>(threads * channels), 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int64_t begin = rows * t / threads, end = rows * (t + 1) / threads;
    double* mine = partial.data() + t * channels;
    for (int64_t r = begin; r < end; ++r)
      for (int64_t c = 0; c < channels; ++c) mine[c] += f(a[r * channels + c], b ? b[r * channels + c] : T(0), c);
  }
  for (int t = 0; t < threads; ++t)
    for (int64_t c = 0; c < channels; ++c) out[c] += partial[t * channels + c];
}

template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// The global batch statistics of x (host, contiguous): mean, biased variance and the global element count.
template <typename T>
void global_statistics(const Tensor& x, Communicator& comm, std::vector<double>& mean, std::vector<double>& var,
                       double& count) {
  const int64_t C = x.size(3), rows = x.numel() / C;
  std::vector<double> sums(static_cast<size_t>(2 * C + 1), 0.0);
  channel_sums<T>(x.data<T>(), nullptr, rows, C, sums.data(), [](T v, T, int64_t) { return double(v); });
  channel_sums<T>(x.data<T>(), nullptr, rows, C, sums.data() + C,
                  [](T v, T, int64_t) { return double(v) * double(v); });
  sums[2 * C] = static_cast<double>(rows);
  comm.all_reduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
  count = sums[2 * C];
  mean.resize(C);
  var.resize(C);
  for (int64_t c = 0; c < C; ++c) {
    mean[c] = sums[c] / count;
    var[c] = std::max(0.0, sums[C + c] / count - mean[c] * mean[c]);
  }
}

}  // namespace

Tensor sync_batch_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, Tensor running_mean,
                       Tensor running_var, const BatchNormParams& params, Communicator& comm) {
  // Eval/Frozen need no statistics from the other ranks; batch_norm also checks every argument.
  if (params.mode != BatchNormMode::Train || comm.size() == 1)
    return batch_norm(x_in, weight_in, bias_in, running_mean, running_var, params);
  ATROUS_CHECK(x_in.defined() && x_in.dim() == 4, kOp, ": x must be NHWC [N,H,W,C], got ",
               x_in.defined() ? x_in.description() : std::string("an undefined tensor"));
  ATROUS_CHECK(x_in.dtype() == DType::f32 || x_in.dtype() == DType::f64, kOp, ": x must be f32 or f64, got ",
               x_in.description());
  // The checks batch_norm makes, for the arguments this path reads.
  const int64_t C = x_in.size(3);
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"weight", &weight_in}, {"bias", &bias_in},
                                {"running_mean", &running_mean}, {"running_var", &running_var}}) {
    if (!t->defined()) continue;
    ATROUS_CHECK(t->dim() == 1 && t->size(0) == C && t->dtype() == x_in.dtype() && t->device() == x_in.device(), kOp,
                 ": '", name, "' must be [C] = [", C, "] of x's dtype and device (x ", x_in.description(), "), got ",
                 t->description());
  }
  ATROUS_CHECK(running_mean.defined() == running_var.defined(), kOp,
               ": give both running_mean and running_var or neither");
  ATROUS_CHECK(std::isfinite(params.eps) && params.eps >= 0.0, kOp, ": eps must be finite and >= 0, got ", params.eps);
  ATROUS_CHECK(params.momentum >= 0.0 && params.momentum <= 1.0, kOp, ": momentum must be in [0, 1], got ",
               params.momentum);

  const Device device = x_in.device();
  const Device host = Device::cpu();
  const Tensor x = x_in.to(host).contiguous();
  const Tensor weight = weight_in.defined() ? weight_in.to(host).contiguous() : Tensor();
  const Tensor bias = bias_in.defined() ? bias_in.to(host).contiguous() : Tensor();
  const kernels::BatchNormShape shape{x.numel() / C, C};
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  Tensor mean_t = Tensor::empty({C}, x.dtype()), invstd_t = Tensor::empty({C}, x.dtype());
  double count = 0;
  dispatch_floating(x.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> mean, var;
    global_statistics<T>(x, comm, mean, var, count);
    ATROUS_CHECK(count > 1, kOp, ": Train mode needs more than one value per channel over all ranks, got ", count);
    for (int64_t c = 0; c < C; ++c) {
      mean_t.data<T>()[c] = static_cast<T>(mean[c]);
      invstd_t.data<T>()[c] = static_cast<T>(1.0 / std::sqrt(var[c] + params.eps));
    }
    kernels::batch_norm_apply_cpu<T>(x.data<T>(), mean_t.data<T>(), invstd_t.data<T>(), data_or_null<T>(weight),
                                     data_or_null<T>(bias), shape, y.data<T>());
    if (running_mean.defined()) {
      // PyTorch's update: the unbiased variance of the global batch.
      Tensor rm = running_mean.to(host).contiguous(), rv = running_var.to(host).contiguous();
      const double m = params.momentum;
      for (int64_t c = 0; c < C; ++c) {
        rm.data<T>()[c] = static_cast<T>((1 - m) * rm.data<T>()[c] + m * mean[c]);
        rv.data<T>()[c] = static_cast<T>((1 - m) * rv.data<T>()[c] + m * var[c] * count / (count - 1));
      }
      running_mean.copy_(rm.to(running_mean.device()));
      running_var.copy_(rv.to(running_var.device()));
    }
  });
  Tensor out = device.is_cpu() ? y : y.to(device);

  const std::vector<Tensor> inputs{x_in, weight_in, bias_in};
  if (!any_requires_grad(inputs)) return out;
  Communicator* ranks = &comm;
  return record_op(kOp, out, inputs,
                   [x, weight, mean_t, invstd_t, count, device, ranks](const Tensor& g_in,
                                                                        const std::vector<bool>& needs) {
                     const Tensor g = g_in.to(Device::cpu()).contiguous();
                     const int64_t C = x.size(3), rows = x.numel() / C;
                     Tensor dx = needs[0] ? Tensor::empty(g.shape(), g.dtype()) : Tensor();
                     Tensor dweight = needs[1] ? Tensor::empty({C}, g.dtype()) : Tensor();
                     Tensor dbias = needs[2] ? Tensor::empty({C}, g.dtype()) : Tensor();
                     dispatch_floating(g.dtype(), "sync_batch_norm backward", [&](auto tag) {
                       using T = decltype(tag);
                       const T* mean = mean_t.data<T>();
                       const T* invstd = invstd_t.data<T>();
                       // Local sums of dy and dy * (x - mean), then their global values for dx.
                       std::vector<double> local(static_cast<size_t>(2 * C), 0.0);
                       channel_sums<T>(g.data<T>(), nullptr, rows, C, local.data(),
                                       [](T dy, T, int64_t) { return double(dy); });
                       channel_sums<T>(g.data<T>(), x.data<T>(), rows, C, local.data() + C,
                                       [mean](T dy, T v, int64_t c) { return double(dy) * (double(v) - mean[c]); });
                       std::vector<double> global = local;
                       ranks->all_reduce_sum(global.data(), 2 * C);
                       if (dbias.defined())
                         for (int64_t c = 0; c < C; ++c) dbias.data<T>()[c] = static_cast<T>(local[c]);
                       if (dweight.defined())
                         for (int64_t c = 0; c < C; ++c) dweight.data<T>()[c] = static_cast<T>(local[C + c] * invstd[c]);
                       if (!dx.defined()) return;
                       const T* w = data_or_null<T>(weight);
                       const T* dy = g.data<T>();
                       const T* xv = x.data<T>();
                       T* out = dx.data<T>();
#pragma omp parallel for schedule(static)
                       for (int64_t r = 0; r < rows; ++r)
                         for (int64_t c = 0; c < C; ++c) {
                           const double is = invstd[c];
                           const double xhat_term = (double(xv[r * C + c]) - mean[c]) * is * is * global[C + c] / count;
                           const double v = (double(dy[r * C + c]) - global[c] / count - xhat_term) * is;
                           out[r * C + c] = static_cast<T>(w ? v * w[c] : v);
                         }
                     });
                     const auto back = [&](const Tensor& t) { return t.defined() && !device.is_cpu() ? t.to(device) : t; };
                     return std::vector<Tensor>{back(dx), back(dweight), back(dbias)};
                   });
}

}  // namespace atrous::dist
