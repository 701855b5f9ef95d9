// A multi-threaded prefetching loader: worker threads read and augment samples into a bounded queue of ready
// batches while the trainer computes, so training never waits on JPEG decoding.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace atrous {

struct LoaderOptions {
  int batch_size = 10;
  bool shuffle = true;      // a new permutation every epoch, from (seed, epoch)
  bool drop_last = true;    // training: only full batches
  bool augment = true;      // false: normalise_sample (then every image in a batch must have the same size)
  AugmentOptions augmentation;
  Preprocessing preprocessing;
  int workers = 2;          // threads decoding and augmenting
  int prefetch_batches = 4; // bound of the ready-batch queue
  uint64_t seed = 1;
  // Batches in pinned host memory (Tensor::empty_pinned), so that to(cuda, /*non_blocking=*/true) copies them to a
  // device without staging; the Trainer turns it on when it trains on CUDA. Plain host memory without a CUDA device.
  bool pin_memory = false;
  // Data-parallel shards: the epoch's order is cut into global batches of batch_size * shard_count samples, and
  // this loader yields shard `shard_index`'s slice of each (samples [shard_index * batch_size, +batch_size) of it).
  // The shards together see exactly the samples, order and augmentation of one loader with the global batch size
  // (augmentation is drawn per sample from the seed, epoch and dataset index). Needs drop_last.
  int shard_index = 0;
  int shard_count = 1;
};

struct Batch {
  Tensor images;                // f32 [B,H,W,3], normalised
  Tensor labels;                // u8 [B,H,W]
  std::vector<std::string> ids;
  int64_t epoch = 0;
  int64_t index_in_epoch = 0;   // which batch of the epoch this is
};

class DataLoader {
 public:
  // The dataset must outlive the loader.
  DataLoader(const SegmentationDataset& dataset, LoaderOptions options);
  ~DataLoader();  // stops and joins the workers, also while they are blocked on a full queue
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts (or restarts) producing from `epoch`, skipping its first `skip_batches` batches (resume mid-epoch).
  void start_epoch(int64_t epoch, int64_t skip_batches = 0);
  // The next batch of the current epoch, in order, or nullopt at its end. An error in a worker (a corrupt file)
  // is rethrown here, naming the file.
  std::optional<Batch> next();
  int64_t batches_per_epoch() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace atrous
