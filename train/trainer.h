// The training loop of the DeepLab papers: SGD with momentum over a prefetching loader, an LR policy, gradient
// accumulation over `iter_size` batches (Caffe's iter_size), a cross-entropy loss on every output of multi-scale
// models, periodic validation, atomic checkpoints (every N iterations and on Ctrl-C), exact resume, a progress bar,
// CSV / JSON-lines logs and a PNG plot of the loss and validation-mIoU curves.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ops/cross_entropy.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "eval/evaluator.h"
#include "models/segmentation_model.h"
#include "solvers/bn_policy.h"
#include "solvers/lr_policy.h"
#include "solvers/sgd.h"

namespace atrous::dist {
class Communicator;  // dist/communicator.h
}  // namespace atrous::dist

namespace atrous {

// Where the loss is computed. Output: labels subsampled (nearest) to each output's size, as DeepLab v1/v2 train
// ("labels subsampled by 8"). Input: logits upsampled (bilinear, the model's align_corners) to the label size, as
// DeepLabv3 does.
enum class LossResolution { Output, Input };
const NamedValues<LossResolution>& loss_resolutions();  // "output", "input"

struct TrainerOptions {
  // Where the model trains: its parameters and buffers are moved there before the optimizer is built (so the
  // momentum buffers live there too), each batch is copied there, and validation runs there whatever
  // validation.device says (a validation that moved the model would leave the optimizer with stale parameters).
  Device device = Device::cpu();
  int64_t max_iterations = 1000;  // optimizer steps
  int iter_size = 1;              // batches whose gradients are summed into one step (Caffe's iter_size)
  SgdOptions sgd;                 // lr is overwritten by lr_policy at every step
  LrPolicy lr_policy;
  std::optional<BnPolicy> bn;  // unset: BatchNorm layers stay as the model built them
  LossResolution loss_resolution = LossResolution::Output;
  std::vector<float> class_weights;  // empty: unweighted cross-entropy
  uint64_t dropout_seed = 1;         // the default generator, which Dropout layers draw from

  int64_t validate_every = 0;  // > 0: evaluate on the validation set every N iterations (and always at the end)
  EvaluationOptions validation;
  int64_t checkpoint_every = 0;  // > 0: write out_dir/checkpoint.safetensors every N iterations
  int64_t log_every = 20;        // a log row (and a plain progress line when stderr is no terminal) every N
  // checkpoint.safetensors, weights.safetensors (at the end), train_log.csv / .jsonl, validation.json (the last
  // validation) and training_curves.png (at the end); empty: nothing is written.
  std::string out_dir;
  bool progress = true;       // progress bar / lines on stderr
  bool handle_sigint = true;  // Ctrl-C (SIGINT) or SIGTERM finishes the step, checkpoints and returns
  bool write_plot = true;
  // Data-parallel training: this process is one rank of `ranks` (null: one process). Every rank starts from rank 0's
  // parameters and buffers, loads its slice of each global batch (the loader's batch_size is per rank; shards in
  // LoaderOptions), weights its loss by its share of the global batch's valid pixels and sums gradients over ranks
  // before each step, so N ranks of batch B train as one process of batch N x B. Rank 0 alone writes files and
  // progress; validation is split over ranks; Ctrl-C on any rank stops every rank after the same step. Dropout draws
  // another stream on each rank, so models with dropout match one process in distribution, not bit for bit.
  std::shared_ptr<dist::Communicator> ranks;
  // Called after every optimizer step (tests; a caller's own logging).
  std::function<void(int64_t iteration, double loss, double lr)> on_step;
};

struct TrainResult {
  int64_t iterations = 0;  // optimizer steps taken in total (including before a resume)
  int64_t steps_this_run = 0;
  bool interrupted = false;
  double last_loss = 0;                        // mean loss over the last log period
  std::optional<EvaluationResult> validation;  // the last validation, if any ran
  int validations = 0;                         // how many ran in this run
  double seconds = 0;                          // wall time of this run
  double images_per_second = 0;                // training throughput (loader waits included)
  double data_wait_fraction = 0;               // share of the step time spent waiting for the loader
  std::string checkpoint;                      // the last checkpoint written, if any
  int ranks = 1;                               // processes that trained together
  int64_t bytes_all_reduced_per_step = 0;      // gradient payload each rank sent through all-reduce per step
  int64_t buckets_per_step = 0;                // all-reduce calls per step
  double buckets_overlapped_per_step = 0;      // of those, started while backward still ran (mean)
  double gradient_finish_seconds_per_step = 0;  // time the reduction added after backward (mean)
};

// Ctrl-C: the SIGINT handler (installed while Trainer::train runs, when handle_sigint) only sets this flag; the loop
// checks it after each step. Tests raise it programmatically.
void request_training_stop();
bool training_stop_requested();
void clear_training_stop();

class Trainer {
 public:
  // The model and datasets must outlive the trainer. `val` may be null (no validation). The loader options' batch
  // size, augmentation and seed are the caller's; the trainer only adds the dataset's ignore index.
  Trainer(SegmentationModel& model, const SegmentationDataset& train, const LoaderOptions& loader,
          TrainerOptions options, const SegmentationDataset* val = nullptr);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Continues from a checkpoint written by this trainer: model, momentum, iteration, the loader's epoch and batch
  // position, RNG states, and the log rows up to that iteration.
  void resume(const std::string& checkpoint_path);
  // Trains until max_iterations or Ctrl-C. Writes a checkpoint at the end (interrupted or not) when out_dir is set.
  TrainResult train();

  int64_t iteration() const { return iteration_; }
  Sgd& optimizer() { return *sgd_; }
  const TrainerOptions& options() const { return options_; }
  std::string checkpoint_path() const;

  // One optimizer step on the next iter_size batches; returns the loss of the combined batch. Exposed for tests
  // and for callers driving their own loop.
  double step();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  SegmentationModel& model_;
  TrainerOptions options_;
  std::unique_ptr<Sgd> sgd_;
  int64_t iteration_ = 0;
};

// Labels [N,H,W] u8 resized by nearest neighbour to [N,h,w], sampling positions as the bilinear resize with the same
// align_corners does (so a label lands where its pixel's logits land). The result is on the labels' device.
Tensor resize_labels_nearest(const Tensor& labels, int64_t height, int64_t width, bool align_corners);

// The loss of one batch: the mean cross-entropy over valid pixels of every output of forward_all_scales, summed (as
// DeepLab v2 trains MSC models: a loss per scale and on the fused map). What Trainer::step minimises with iter_size 1.
// The labels may live on any device: each output compares against a copy on its own device.
Tensor segmentation_loss(const std::vector<Tensor>& outputs, const Tensor& labels, LossResolution resolution,
                         bool align_corners, const CrossEntropyParams& params);

}  // namespace atrous
