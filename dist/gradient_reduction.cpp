#include "dist/gradient_reduction.h"

#include <chrono>

#include "core/error.h"

namespace atrous::dist {
namespace {

constexpr int64_t kBucketBytes = int64_t(16) << 20;

int64_t bytes_of(const Tensor& t) { return t.numel() * static_cast<int64_t>(dtype_size(t.dtype())); }

// Parameters of one dtype and device taken from the last to the first, at most kBucketBytes together (a larger one
// alone): backward completes the last layers' gradients first.
std::vector<std::vector<size_t>> make_buckets(const std::vector<Tensor>& params) {
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  for (size_t i = params.size(); i-- > 0;) {
    const Tensor& head = buckets.empty() ? params[i] : params[buckets.back().front()];
    const bool fits = !buckets.empty() && head.dtype() == params[i].dtype() && head.device() == params[i].device() &&
                      bytes + bytes_of(params[i]) <= kBucketBytes;
    if (!fits) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(i);
    bytes += bytes_of(params[i]);
  }
  return buckets;
}

}  // namespace

GradientReducer::GradientReducer(Communicator& comm, std::vector<Tensor> params)
    : comm_(comm), params_(std::move(params)), buckets_(make_buckets(params_)), bucket_of_(params_.size()) {
  for (size_t i = 0; i < params_.size(); ++i) {
    ATROUS_CHECK(params_[i].dtype() == DType::f32 || params_[i].dtype() == DType::f64, "GradientReducer: parameter ", i,
                 " is ", params_[i].description(), "; only f32/f64 gradients are reduced");
    ATROUS_CHECK(index_of_.emplace(params_[i].impl().get(), i).second, "GradientReducer: parameter ", i, " (",
                 params_[i].description(), ") is listed twice");
  }
  for (size_t b = 0; b < buckets_.size(); ++b)
    for (size_t i : buckets_[b]) bucket_of_[i] = b;
  ready_.assign(params_.size(), false);
  ready_in_bucket_.assign(buckets_.size(), 0);
  flat_.resize(buckets_.size());
  pending_.resize(buckets_.size());
}

GradientReducer::~GradientReducer() = default;

std::unique_ptr<ScopedLeafGradientHook> GradientReducer::overlap_with_backward() {
  if (comm_.size() == 1) return nullptr;
  in_backward_ = true;
  return std::make_unique<ScopedLeafGradientHook>([this](const TensorImpl& leaf) { on_leaf_ready(leaf); });
}

void GradientReducer::on_leaf_ready(const TensorImpl& leaf) {
  const auto found = index_of_.find(&leaf);
  if (found == index_of_.end() || ready_[found->second]) return;  // not ours (an input), or seen in this step
  ready_[found->second] = true;
  ++ready_in_bucket_[bucket_of_[found->second]];
  start_ready_buckets();
  // MPI moves non-blocking collectives along only inside MPI calls: give the running ones a turn.
  for (size_t b = 0; b < next_bucket_; ++b) pending_[b]->test();
}

void GradientReducer::start_ready_buckets() {
  while (next_bucket_ < buckets_.size() && ready_in_bucket_[next_bucket_] == buckets_[next_bucket_].size()) {
    start_bucket(next_bucket_++);
    if (in_backward_) ++started_in_backward_;
  }
}

// The bucket's gradients flattened into one tensor on their device (zeros where this rank has none), and its sum
// over ranks started.
void GradientReducer::start_bucket(size_t b) {
  int64_t total = 0;
  for (size_t i : buckets_[b]) total += params_[i].numel();
  const Tensor& first = params_[buckets_[b].front()];
  Tensor flat = Tensor::zeros({total}, first.dtype(), first.device());
  int64_t offset = 0;
  for (size_t i : buckets_[b]) {
    const int64_t n = params_[i].numel();
    const Tensor g = params_[i].grad();
    if (g.defined()) flat.slice(0, offset, offset + n).copy_(g.contiguous().reshape({n}));
    offset += n;
  }
  flat_[b] = flat;
  pending_[b] = start_all_reduce_sum(comm_, flat_[b]);
}

GradientReductionStats GradientReducer::finish() {
  GradientReductionStats stats;
  if (comm_.size() == 1) return stats;
  const auto start = std::chrono::steady_clock::now();
  in_backward_ = false;
  // Which parameters any rank's backward reached: a gradient is written wherever one did.
  std::vector<int64_t> reached(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) reached[i] = params_[i].grad().defined() ? 1 : 0;
  while (next_bucket_ < buckets_.size()) start_bucket(next_bucket_++);
  comm_.all_reduce_sum(reached.data(), static_cast<int64_t>(reached.size()));
  for (size_t b = 0; b < buckets_.size(); ++b) {
    pending_[b]->wait();
    int64_t offset = 0;
    for (size_t i : buckets_[b]) {
      Tensor p = params_[i];
      const int64_t n = p.numel();
      if (reached[i] > 0) p.set_grad(flat_[b].slice(0, offset, offset + n).reshape(p.shape()).clone());
      offset += n;
      stats.bytes += bytes_of(p);
    }
    pending_[b].reset();
    flat_[b] = Tensor();
  }
  stats.buckets = static_cast<int64_t>(buckets_.size());
  stats.buckets_started_in_backward = started_in_backward_;
  stats.wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Ready for the next step.
  ready_.assign(params_.size(), false);
  ready_in_bucket_.assign(buckets_.size(), 0);
  next_bucket_ = 0;
  started_in_backward_ = 0;
  return stats;
}

GradientReductionStats all_reduce_gradients(Communicator& comm, const std::vector<Tensor>& params) {
  GradientReducer reducer(comm, params);
  return reducer.finish();
}

}  // namespace atrous::dist
