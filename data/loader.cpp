// The prefetching loader. Work is handed out one sample at a time, in epoch order, to whichever worker is free;
// a batch becomes ready when its last sample is in, and next() hands batches out strictly by index. So the batches
// are the same whatever the worker count or timing: the samples come from the (seed, epoch) permutation and each
// sample's augmentation from (seed, epoch, dataset index). Workers may run at most `prefetch_batches` batches ahead
// of the consumer, which bounds memory; everyone sleeps on condition variables, nobody polls.
#include "data/loader.h"

#include <omp.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/random.h"

namespace atrous {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Fisher-Yates with Philox draws keyed by (seed, epoch); the key is mixed apart from the augmentation's, which uses
// the seed itself, so shuffling and augmenting never share random numbers.
std::vector<int64_t> epoch_order(int64_t size, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (!shuffle) return order;
  const uint64_t key = splitmix64(splitmix64(seed ^ 0x53687566666c65ull) + static_cast<uint64_t>(epoch));
  for (int64_t i = size - 1; i > 0; --i) {
    const uint64_t bits = philox4x32(static_cast<uint64_t>(i), key).v[0];
    const int64_t j = static_cast<int64_t>((bits * static_cast<uint64_t>(i + 1)) >> 32);  // uniform in [0, i]
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace

// One batch being filled: a slot per sample, filled by whichever worker drew it.
struct PendingBatch {
  std::vector<TransformedSample> samples;
  std::vector<std::string> ids;
  std::vector<std::exception_ptr> errors;
  int64_t remaining = 0;
  bool ready = false;
  Batch batch;
  std::exception_ptr error;
};

struct DataLoader::State {
  const SegmentationDataset& dataset;
  LoaderOptions options;
  int64_t size = 0;
  int64_t batches = 0;
  int64_t positions = 0;  // samples produced per epoch: batches * batch_size, or size when the last batch is partial

  std::mutex mutex;
  std::condition_variable work_cv;   // workers: a sample may be claimed, or stop
  std::condition_variable ready_cv;  // consumer: a batch became ready
  bool stop = false;
  bool started = false;
  uint64_t generation = 0;  // bumped by start_epoch: work from an older generation is dropped
  int64_t epoch = 0;
  std::vector<int64_t> order;  // dataset index of each position in the epoch
  int64_t next_position = 0;   // the next sample to claim
  int64_t consumed = 0;        // the batch next() returns next
  std::map<int64_t, PendingBatch> pending;
  std::vector<std::thread> workers;

  State(const SegmentationDataset& d, LoaderOptions o) : dataset(d), options(std::move(o)) {}

  // The position in the epoch's order of this shard's `position`-th sample (see LoaderOptions::shard_index).
  int64_t epoch_position(int64_t position) const {
    const int64_t b = options.batch_size;
    return (position / b) * b * options.shard_count + options.shard_index * b + position % b;
  }
  int64_t batch_length(int64_t k) const { return std::min<int64_t>(options.batch_size, size - k * options.batch_size); }
  bool can_claim() const {
    return started && next_position < positions &&
           next_position / options.batch_size < consumed + options.prefetch_batches;
  }

  void worker_loop();
  TransformedSample produce(int64_t index, int64_t epoch_of_sample, std::string& id) const;
  Batch assemble(PendingBatch& p, int64_t k, int64_t epoch_of_batch) const;
};

TransformedSample DataLoader::State::produce(int64_t index, int64_t epoch_of_sample, std::string& id) const {
  LabeledImage sample = dataset.get(index);  // its errors name the file already
  id = sample.id;
  try {
    if (!options.augment) return normalise_sample(sample, options.preprocessing);
    const uint64_t stream = static_cast<uint64_t>(epoch_of_sample) * static_cast<uint64_t>(size) + index;
    const AugmentDraw draw = draw_augmentation(options.augmentation, options.seed, stream);
    return augment_sample(sample, options.augmentation, draw, options.preprocessing, dataset.ignore_index());
  } catch (const Error& e) {
    ATROUS_FAIL("loader: sample '", sample.id, "' (index ", index, "): ", e.what());
  }
}

Batch DataLoader::State::assemble(PendingBatch& p, int64_t k, int64_t epoch_of_batch) const {
  const int64_t n = static_cast<int64_t>(p.samples.size());
  const Shape& first = p.samples[0].image.shape();
  for (int64_t i = 1; i < n; ++i) {
    ATROUS_CHECK(p.samples[i].image.shape() == first, "loader: batch ", k, " of epoch ", epoch_of_batch, ": image '",
                 p.ids[i], "' is ", shape_str(p.samples[i].image.shape()), " but '", p.ids[0], "' is ",
                 shape_str(first),
                 "; without augmentation every image of a batch must have the same size "
                 "(use batch_size 1 or a crop)");
  }
  Batch b;
  const auto make = [&](const Shape& shape, DType dtype) {
    return options.pin_memory ? Tensor::empty_pinned(shape, dtype) : Tensor::empty(shape, dtype);
  };
  b.images = make({n, first[0], first[1], 3}, DType::f32);
  b.labels = make({n, first[0], first[1]}, DType::u8);
  const int64_t pixels = first[0] * first[1];
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(b.images.data<float>() + i * pixels * 3, p.samples[i].image.contiguous().data<float>(),
                sizeof(float) * pixels * 3);
    std::memcpy(b.labels.data<uint8_t>() + i * pixels, p.samples[i].label.contiguous().data<uint8_t>(), pixels);
  }
  b.ids = std::move(p.ids);
  b.epoch = epoch_of_batch;
  b.index_in_epoch = k;
  return b;
}

void DataLoader::State::worker_loop() {
  // Each worker decodes its own sample; an OpenMP team per worker inside resize would only oversubscribe the cores
  // the trainer is using. omp_set_num_threads affects the calling thread only.
  omp_set_num_threads(1);
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    work_cv.wait(lock, [&] { return stop || can_claim(); });
    if (stop) return;
    const int64_t position = next_position++;
    const uint64_t gen = generation;
    const int64_t k = position / options.batch_size, slot = position % options.batch_size;
    const int64_t index = order[static_cast<size_t>(epoch_position(position))], sample_epoch = epoch;
    PendingBatch& created = pending[k];
    if (created.samples.empty()) {
      const int64_t length = batch_length(k);
      created.samples.resize(static_cast<size_t>(length));
      created.ids.resize(static_cast<size_t>(length));
      created.errors.resize(static_cast<size_t>(length));
      created.remaining = length;
    }
    lock.unlock();

    TransformedSample result;
    std::string id;
    std::exception_ptr error;
    try {
      result = produce(index, sample_epoch, id);
    } catch (...) {
      error = std::current_exception();
    }

    lock.lock();
    if (stop) return;
    if (gen != generation) continue;  // start_epoch restarted meanwhile: this sample belongs to nobody
    PendingBatch& p = pending.at(k);
    p.samples[slot] = std::move(result);
    p.errors[slot] = error;
    p.ids[slot] = std::move(id);
    if (--p.remaining > 0) continue;

    // This worker finished the batch: assemble it outside the lock.
    PendingBatch done = std::move(p);
    lock.unlock();
    PendingBatch finished;
    // The first failing sample of the batch (by position, not timing) decides the error, so it is deterministic.
    for (std::exception_ptr& e : done.errors) {
      if (e) {
        finished.error = e;
        break;
      }
    }
    if (!finished.error) {
      try {
        finished.batch = assemble(done, k, sample_epoch);
      } catch (...) {
        finished.error = std::current_exception();
      }
    }
    finished.ready = true;
    lock.lock();
    if (stop) return;
    if (gen != generation) continue;
    pending.at(k) = std::move(finished);
    ready_cv.notify_all();
  }
}

DataLoader::DataLoader(const SegmentationDataset& dataset, LoaderOptions options)
    : state_(std::make_unique<State>(dataset, std::move(options))) {
  State& s = *state_;
  const LoaderOptions& o = s.options;
  ATROUS_CHECK(o.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", o.batch_size);
  ATROUS_CHECK(o.workers >= 1, "DataLoader: workers must be >= 1, got ", o.workers);
  ATROUS_CHECK(o.prefetch_batches >= 1, "DataLoader: prefetch_batches must be >= 1, got ", o.prefetch_batches);
  if (o.augment) draw_augmentation(o.augmentation, o.seed, 0);  // checks the crop and scale options now
  s.size = dataset.size();
  ATROUS_CHECK(s.size >= 1, "DataLoader: dataset ", dataset.describe(), " is empty");
  ATROUS_CHECK(o.shard_count >= 1 && o.shard_index >= 0 && o.shard_index < o.shard_count,
               "DataLoader: shard_index must be in [0, shard_count), got shard ", o.shard_index, " of ", o.shard_count);
  ATROUS_CHECK(o.shard_count == 1 || o.drop_last, "DataLoader: sharding (", o.shard_count,
               " shards) needs drop_last: every shard must get a full slice of every global batch");
  const int64_t global_batch = static_cast<int64_t>(o.batch_size) * o.shard_count;
  s.batches = o.drop_last ? s.size / global_batch : (s.size + o.batch_size - 1) / o.batch_size;
  const std::string batch_text =
      std::to_string(o.batch_size) + (o.shard_count > 1 ? " x " + std::to_string(o.shard_count) + " shards" : "");
  ATROUS_CHECK(s.batches >= 1, "DataLoader: dataset ", dataset.describe(), " has fewer images (", s.size,
               ") than one batch (", batch_text, ") and drop_last is set");
  s.positions = std::min(s.size, s.batches * o.batch_size);
  s.workers.reserve(static_cast<size_t>(o.workers));
  try {
    for (int i = 0; i < o.workers; ++i) s.workers.emplace_back([&s] { s.worker_loop(); });
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.stop = true;
    }
    s.work_cv.notify_all();
    for (std::thread& t : s.workers) t.join();
    throw;
  }
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->work_cv.notify_all();
  state_->ready_cv.notify_all();
  for (std::thread& t : state_->workers) t.join();
}

void DataLoader::start_epoch(int64_t epoch, int64_t skip_batches) {
  State& s = *state_;
  ATROUS_CHECK(epoch >= 0, "DataLoader::start_epoch: epoch must be >= 0, got ", epoch);
  ATROUS_CHECK(skip_batches >= 0 && skip_batches <= s.batches, "DataLoader::start_epoch: skip_batches must be in [0, ",
               s.batches, "], got ", skip_batches);
  std::vector<int64_t> order = epoch_order(s.size, s.options.shuffle, s.options.seed, epoch);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    ++s.generation;
    s.pending.clear();
    s.order = std::move(order);
    s.epoch = epoch;
    s.consumed = skip_batches;
    s.next_position = skip_batches * s.options.batch_size;
    s.started = true;
  }
  s.work_cv.notify_all();
}

std::optional<Batch> DataLoader::next() {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  ATROUS_CHECK(s.started, "DataLoader::next: call start_epoch(epoch) first");
  if (s.consumed >= s.batches) return std::nullopt;
  const int64_t k = s.consumed;
  s.ready_cv.wait(lock, [&] {
    auto it = s.pending.find(k);
    return s.stop || (it != s.pending.end() && it->second.ready);
  });
  ATROUS_CHECK(!s.stop, "DataLoader::next: the loader is shutting down");
  auto it = s.pending.find(k);
  PendingBatch done = std::move(it->second);
  s.pending.erase(it);
  ++s.consumed;  // a failed batch is consumed too: the next call moves on to the following one
  lock.unlock();
  s.work_cv.notify_all();
  if (done.error) std::rethrow_exception(done.error);
  return std::move(done.batch);
}

int64_t DataLoader::batches_per_epoch() const { return state_->batches; }

}  // namespace atrous
