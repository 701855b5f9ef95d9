#include "dist/gradient_reduction.h"

#include "core/error.h"

namespace atrous::dist {
namespace {

constexpr int64_t kBucketBytes = int64_t(16) << 20;

// Consecutive parameters of one dtype and device, at most kBucketBytes together (a larger one alone).
std::vector<std::vector<size_t>> make_buckets(const std::vector<Tensor>& params) {
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const int64_t size = params[i].numel() * static_cast<int64_t>(dtype_size(params[i].dtype()));
    const Tensor& head = buckets.empty() ? params[i] : params[buckets.back().front()];
    const bool fits = !buckets.empty() && head.dtype() == params[i].dtype() && head.device() == params[i].device() &&
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

// One bucket: the gradients flattened into one tensor on their device (zeros where this rank has none), summed over
// ranks in place (NCCL on the device, or MPI through host memory), and written back.
void reduce_bucket(Communicator& comm, const std::vector<Tensor>& params, const std::vector<size_t>& bucket,
                   const std::vector<int64_t>& reached) {
  int64_t total = 0;
  for (size_t i : bucket) total += params[i].numel();
  const Tensor& first = params[bucket.front()];
  Tensor flat = Tensor::zeros({total}, first.dtype(), first.device());
  int64_t offset = 0;
  for (size_t i : bucket) {
    const int64_t n = params[i].numel();
    const Tensor g = params[i].grad();
    if (g.defined()) flat.slice(0, offset, offset + n).copy_(g.contiguous().reshape({n}));
    offset += n;
  }
  all_reduce_sum(comm, flat);
  offset = 0;
  for (size_t i : bucket) {
    Tensor p = params[i];
    const int64_t n = p.numel();
    if (reached[i] > 0) p.set_grad(flat.slice(0, offset, offset + n).reshape(p.shape()).clone());
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
    reduce_bucket(comm, params, bucket, reached);
    for (size_t i : bucket) stats.bytes += params[i].numel() * static_cast<int64_t>(dtype_size(params[i].dtype()));
    ++stats.buckets;
  }
  return stats;
}

}  // namespace atrous::dist
