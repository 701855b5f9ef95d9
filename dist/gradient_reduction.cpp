#include "dist/gradient_reduction.h"

#include <cstring>

#include "core/error.h"

namespace atrous::dist {
namespace {

constexpr int64_t kBucketBytes = int64_t(16) << 20;

// Consecutive parameters of one dtype, at most kBucketBytes together (a larger one alone).
std::vector<std::vector<size_t>> make_buckets(const std::vector<Tensor>& params) {
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const int64_t size = params[i].numel() * static_cast<int64_t>(dtype_size(params[i].dtype()));
    const bool fits = !buckets.empty() && params[buckets.back().front()].dtype() == params[i].dtype() &&
                      bytes + size <= kBucketBytes;
    if (!fits) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(i);
    bytes += size;
  }
  return buckets;
}

template <typename T>
void reduce_bucket(Communicator& comm, const std::vector<Tensor>& params, const std::vector<size_t>& bucket,
                   const std::vector<int64_t>& reached) {
  int64_t total = 0;
  for (size_t i : bucket) total += params[i].numel();
  std::vector<T> flat(static_cast<size_t>(total), T(0));
  int64_t offset = 0;
  for (size_t i : bucket) {
    const Tensor g = params[i].grad();
    if (g.defined()) {
      const Tensor host = g.to(Device::cpu()).contiguous();
      std::memcpy(flat.data() + offset, host.data<T>(), sizeof(T) * host.numel());
    }
    offset += params[i].numel();
  }
  comm.all_reduce_sum(flat.data(), total);
  offset = 0;
  for (size_t i : bucket) {
    Tensor p = params[i];
    const int64_t n = p.numel();
    if (reached[i] > 0) {
      Tensor host = Tensor::empty(p.shape(), p.dtype());
      std::memcpy(host.data<T>(), flat.data() + offset, sizeof(T) * n);
      p.set_grad(host.to(p.device()));
    }
    offset += n;
  }
}

}  // namespace

GradientReductionStats all_reduce_gradients(Communicator& comm, const std::vector<Tensor>& params) {
  GradientReductionStats stats;
  if (comm.size() == 1) return stats;
  // How many ranks' backward reached each parameter: a gradient is written wherever any did.
  std::vector<int64_t> reached(params.size(), 0);
  for (size_t i = 0; i < params.size(); ++i) {
    ATROUS_CHECK(params[i].dtype() == DType::f32 || params[i].dtype() == DType::f64,
                 "all_reduce_gradients: parameter ", i, " is ", params[i].description(), "; only f32/f64 reduce");
    reached[i] = params[i].grad().defined() ? 1 : 0;
  }
  comm.all_reduce_sum(reached.data(), static_cast<int64_t>(reached.size()));
  for (const std::vector<size_t>& bucket : make_buckets(params)) {
    if (params[bucket.front()].dtype() == DType::f32)
      reduce_bucket<float>(comm, params, bucket, reached);
    else
      reduce_bucket<double>(comm, params, bucket, reached);
    for (size_t i : bucket) stats.bytes += params[i].numel() * static_cast<int64_t>(dtype_size(params[i].dtype()));
    ++stats.buckets;
  }
  return stats;
}

}  // namespace atrous::dist
