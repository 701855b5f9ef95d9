#include "train/trainer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/atrous.h"
#include "core/device_name.h"
#include "dist/gradient_reduction.h"
#include "models/model_metadata.h"
#include "train/checkpoint.h"
#include "train/progress.h"
#include "train/training_log.h"

namespace atrous {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A signal handler may only touch lock-free atomics.
std::atomic<bool> g_stop_requested{false};

extern "C" void on_stop_signal(int) { g_stop_requested.store(true); }

// Installs the stop handler for SIGINT (Ctrl-C) and SIGTERM (what mpirun sends every rank when it gets Ctrl-C, and
// what Slurm sends before killing a preempted job) for the duration of a run, and puts the previous handlers back
// afterwards, so a library caller's own handlers survive training.
class ScopedStopSignals {
 public:
  explicit ScopedStopSignals(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    previous_int_ = std::signal(SIGINT, on_stop_signal);
    previous_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~ScopedStopSignals() {
    if (!enabled_) return;
    std::signal(SIGINT, previous_int_ == SIG_ERR ? SIG_DFL : previous_int_);
    std::signal(SIGTERM, previous_term_ == SIG_ERR ? SIG_DFL : previous_term_);
  }
  ScopedStopSignals(const ScopedStopSignals&) = delete;
  ScopedStopSignals& operator=(const ScopedStopSignals&) = delete;

 private:
  bool enabled_;
  void (*previous_int_)(int) = SIG_DFL;
  void (*previous_term_)(int) = SIG_DFL;
};

std::string format_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", v);
  return text;
}

// Sum of the class weights (1 each without weights) over the valid pixels of `labels`: the denominator that the
// weighted mean cross-entropy divides by, so that sub-batches can be combined into the mean over the whole batch.
double valid_weight(const Tensor& labels, int ignore_index, const std::vector<float>& class_weights) {
  const Tensor l = labels.contiguous();
  const uint8_t* p = l.data<uint8_t>();
  double total = 0;
  for (int64_t i = 0; i < l.numel(); ++i) {
    if (p[i] == ignore_index) continue;
    total += class_weights.empty() || p[i] >= class_weights.size() ? 1.0 : class_weights[p[i]];
  }
  return total;
}

// The labels the loss of one output compares against, and the logits at that resolution.
Tensor loss_logits(const Tensor& output, const Tensor& labels, LossResolution resolution, bool align_corners) {
  if (resolution == LossResolution::Output) return output;
  if (output.size(1) == labels.size(1) && output.size(2) == labels.size(2)) return output;
  return resize_bilinear(output, ResizeParams::to_size(labels.size(1), labels.size(2), align_corners));
}

Tensor loss_labels(const Tensor& output, const Tensor& labels, LossResolution resolution, bool align_corners) {
  if (resolution == LossResolution::Input) return labels;
  return resize_labels_nearest(labels, output.size(1), output.size(2), align_corners);
}

// Every rank must hold the same model: rank 0's initial parameters and buffers become everybody's. The models are
// compared first (every rank sees every rank's counts, so all of them fail together instead of some waiting).
void start_from_root(Module& model, dist::Communicator& ranks) {
  const std::vector<NamedTensor> params = model.named_parameters(), buffers = model.named_buffers();
  const int64_t mine[3] = {static_cast<int64_t>(params.size()), static_cast<int64_t>(buffers.size()),
                           model.parameter_count()};
  const std::vector<uint8_t> all = ranks.all_gather(mine, sizeof mine);
  const auto* counts = reinterpret_cast<const int64_t*>(all.data());
  for (int r = 1; r < ranks.size(); ++r)
    ATROUS_CHECK(std::equal(counts, counts + 3, counts + 3 * r), "Trainer: rank ", r, "'s model has ",
                 counts[3 * r], " parameter tensors, ", counts[3 * r + 1], " buffers and ", counts[3 * r + 2],
                 " parameters, rank 0's ", counts[0], ", ", counts[1], " and ", counts[2],
                 "; every rank must build the same model");
  NoGradGuard no_grad;
  for (const NamedTensor& p : params) {
    Tensor t = p.tensor;
    dist::broadcast(ranks, t, 0);
  }
  for (const NamedTensor& b : buffers) {
    Tensor t = b.tensor;
    dist::broadcast(ranks, t, 0);
  }
}

// Dropout's stream on each rank: rank 0's is the configured seed (the one checkpoints record), the others are offset
// from it, so that ranks do not drop the same units of their different images. (One process of the global batch
// draws one mask for all images; N ranks match it in distribution, not bit for bit.)
uint64_t rank_dropout_seed(uint64_t seed, int rank) {
  return seed + static_cast<uint64_t>(rank) * 0x9E3779B97F4A7C15ull;
}

}  // namespace

void request_training_stop() { g_stop_requested.store(true); }
bool training_stop_requested() { return g_stop_requested.load(); }
void clear_training_stop() { g_stop_requested.store(false); }

const NamedValues<LossResolution>& loss_resolutions() {
  static const NamedValues<LossResolution> names(
      "loss resolution", {{"output", LossResolution::Output}, {"input", LossResolution::Input}});
  return names;
}

Tensor resize_labels_nearest(const Tensor& labels, int64_t height, int64_t width, bool align_corners) {
  ATROUS_CHECK(labels.dim() == 3 && labels.dtype() == DType::u8,
               "resize_labels_nearest: labels must be u8 [N,H,W], got ", labels.description());
  ATROUS_CHECK(height >= 1 && width >= 1, "resize_labels_nearest: output size must be positive, got ", height, "x",
               width);
  if (labels.size(1) == height && labels.size(2) == width) return labels;
  return resize_nearest(labels, height, width, align_corners);  // on the labels' device
}

Tensor segmentation_loss(const std::vector<Tensor>& outputs, const Tensor& labels, LossResolution resolution,
                         bool align_corners, const CrossEntropyParams& params) {
  ATROUS_CHECK(!outputs.empty(), "segmentation_loss: the model returned no outputs");
  Tensor total;
  for (const Tensor& output : outputs) {
    Tensor loss =
        softmax_cross_entropy(loss_logits(output, labels, resolution, align_corners),
                              loss_labels(output, labels, resolution, align_corners).to(output.device()), params);
    total = total.defined() ? add(total, loss) : loss;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------

struct Trainer::Impl {
  const SegmentationDataset& train_set;
  const SegmentationDataset* val_set;
  LoaderOptions loader_options;
  DataLoader loader;
  CrossEntropyParams loss_params;
  int ignore_index;

  // Where the loader stands: the next batch is batch `batch_in_epoch` of `epoch`.
  int64_t epoch = 0;
  int64_t batch_in_epoch = 0;
  bool loader_started = false;
  int64_t batches_consumed = 0;
  std::vector<Tensor> params;  // the optimiser's, in its order: every rank reduces gradients in this order
  std::unique_ptr<dist::GradientReducer> reducer;
  int64_t bytes_all_reduced_per_step = 0;
  int64_t buckets_per_step = 0;
  int64_t buckets_overlapped = 0;      // this run: buckets started while backward ran
  double gradient_finish_seconds = 0;  // this run: what the reduction added after backward

  // Timing of this run.
  double data_wait_seconds = 0;
  double step_seconds = 0;
  int64_t images_this_run = 0;

  std::unique_ptr<TrainingLog> log;
  double elapsed_before = 0;  // training time of the run before a resume (from its log)

  Impl(const SegmentationDataset& train, const SegmentationDataset* val, const LoaderOptions& options)
      : train_set(train),
        val_set(val),
        loader_options(options),
        loader(train, options),
        ignore_index(train.ignore_index()) {}

  Batch next_batch() {
    const auto wait_start = Clock::now();
    if (!loader_started) {
      loader.start_epoch(epoch, batch_in_epoch);
      loader_started = true;
    }
    std::optional<Batch> batch = loader.next();
    while (!batch) {
      ATROUS_CHECK(loader.batches_per_epoch() > 0, "Trainer: the training set (", train_set.describe(),
                   ") gives no full batch of ", loader_options.batch_size, " images per epoch");
      ++epoch;
      batch_in_epoch = 0;
      loader.start_epoch(epoch, 0);
      batch = loader.next();
    }
    batch_in_epoch = batch->index_in_epoch + 1;
    ++batches_consumed;
    data_wait_seconds += seconds_since(wait_start);
    return std::move(*batch);
  }
};

Trainer::Trainer(SegmentationModel& model, const SegmentationDataset& train, const LoaderOptions& loader,
                 TrainerOptions options, const SegmentationDataset* val)
    : model_(model), options_(std::move(options)) {
  options_.lr_policy.validate();
  ATROUS_CHECK(options_.max_iterations > 0, "Trainer: max_iterations must be positive, got ", options_.max_iterations);
  ATROUS_CHECK(options_.iter_size >= 1, "Trainer: iter_size must be >= 1, got ", options_.iter_size);
  ATROUS_CHECK(options_.log_every >= 1, "Trainer: log_every must be >= 1, got ", options_.log_every);
  ATROUS_CHECK(options_.validate_every >= 0 && options_.checkpoint_every >= 0,
               "Trainer: validate_every and checkpoint_every must be >= 0");
  ATROUS_CHECK(train.num_classes() == model.num_classes(), "Trainer: the model predicts ", model.num_classes(),
               " classes but the training set (", train.describe(), ") has ", train.num_classes());
  ATROUS_CHECK(!val || val->num_classes() == model.num_classes(), "Trainer: the model predicts ", model.num_classes(),
               " classes but the validation set (", val->describe(), ") has ", val->num_classes());
  ATROUS_CHECK(options_.class_weights.empty() || static_cast<int>(options_.class_weights.size()) == model.num_classes(),
               "Trainer: ", options_.class_weights.size(), " class weights for ", model.num_classes(), " classes");
  require_device_available(options_.device, "Trainer");
  if (!options_.ranks) options_.ranks = std::make_shared<dist::SingleProcess>();
  dist::Communicator& ranks = *options_.ranks;
  if (!ranks.is_root()) options_.progress = false;
  // Validation must not move the model: the optimizer below holds the parameters of this device.
  options_.validation.device = options_.device;
  options_.validation.ranks = options_.ranks;
  model_.to(options_.device);
  // On CUDA the loader fills pinned batches, which reach the device without staging or waiting.
  LoaderOptions loader_options = loader;
  loader_options.pin_memory = loader_options.pin_memory || options_.device.is_cuda();
  loader_options.shard_index = ranks.rank();
  loader_options.shard_count = ranks.size();
  impl_ = std::make_unique<Impl>(train, val, loader_options);
  impl_->loss_params.ignore_index = train.ignore_index();
  if (!options_.class_weights.empty())
    impl_->loss_params.class_weights =
        Tensor::from_vector(options_.class_weights, {static_cast<int64_t>(options_.class_weights.size())})
            .to(options_.device);
  // Frozen BN parameters must be out of the optimiser's groups, so the policy goes first.
  if (options_.bn) {
    options_.bn->validate();
    apply_bn_policy(model_, *options_.bn, options_.ranks);
  }
  if (ranks.size() > 1) start_from_root(model_, ranks);
  model_.train(true);
  SgdOptions sgd = options_.sgd;
  sgd.lr = options_.lr_policy.lr_at(0);
  sgd_ = std::make_unique<Sgd>(model_.param_groups(), sgd);
  for (const ParamGroup& group : sgd_->groups())
    impl_->params.insert(impl_->params.end(), group.params.begin(), group.params.end());
  impl_->reducer = std::make_unique<dist::GradientReducer>(ranks, impl_->params);
  default_generator().set_state(rank_dropout_seed(options_.dropout_seed, ranks.rank()), 0);
}

Trainer::~Trainer() = default;

std::string Trainer::checkpoint_path() const {
  return options_.out_dir.empty() ? std::string() : options_.out_dir + "/checkpoint.safetensors";
}

void Trainer::resume(const std::string& checkpoint_path) {
  const TrainingState state = load_checkpoint(checkpoint_path, model_, *sgd_);
  ATROUS_CHECK(state.data_rng.seed == impl_->loader_options.seed, "Trainer::resume: ", checkpoint_path,
               " was trained with data seed ", state.data_rng.seed, " but the loader has seed ",
               impl_->loader_options.seed, "; an exact resume needs the same seed");
  const auto global_batch = state.extra.find("global_batch");
  const int64_t our_global_batch =
      static_cast<int64_t>(impl_->loader_options.batch_size) * impl_->loader_options.shard_count;
  ATROUS_CHECK(global_batch == state.extra.end() || std::stoll(global_batch->second) == our_global_batch,
               "Trainer::resume: ", checkpoint_path, " was trained with a global batch of ",
               global_batch == state.extra.end() ? std::string("?") : global_batch->second, " images (ranks x batch "
               "size); resuming with ", impl_->loader_options.shard_count, " ranks x ",
               impl_->loader_options.batch_size, " = ", our_global_batch,
               " would change the data order: choose the batch size so that the product stays the same");
  const auto position = state.extra.find("batch_in_epoch");
  ATROUS_CHECK(position != state.extra.end(), "Trainer::resume: ", checkpoint_path,
               " has no loader position (extra.batch_in_epoch); it was not written by a Trainer");
  iteration_ = state.iteration;
  impl_->epoch = state.epoch;
  impl_->batch_in_epoch = std::stoll(position->second);
  impl_->batches_consumed = static_cast<int64_t>(state.data_rng.offset);
  impl_->loader_started = false;
  default_generator().set_state(rank_dropout_seed(state.dropout_rng.seed, options_.ranks->rank()),
                                state.dropout_rng.offset);
  ATROUS_CHECK(iteration_ <= options_.max_iterations, "Trainer::resume: ", checkpoint_path, " is at iteration ",
               iteration_, ", beyond max_iterations ", options_.max_iterations);
  if (!options_.out_dir.empty() && options_.ranks->is_root()) {
    impl_->log = std::make_unique<TrainingLog>(options_.out_dir, iteration_);
    if (!impl_->log->rows().empty()) impl_->elapsed_before = impl_->log->rows().back().elapsed_seconds;
  }
}

double Trainer::step() {
  Impl& m = *impl_;
  const double lr = options_.lr_policy.lr_at(iteration_);
  sgd_->set_lr(lr);
  sgd_->zero_grad();
  const int k = options_.iter_size;
  std::vector<Batch> batches;
  batches.reserve(k);
  for (int j = 0; j < k; ++j) batches.push_back(m.next_batch());

  const auto compute_start = Clock::now();
  const bool align = model_.definition().align_corners;
  // Caffe's iter_size: the k batches' gradients are summed. Each output's loss is a mean over valid pixels, so each
  // batch's share is weighted by its valid pixels over the whole step's, which makes k batches of b exactly one
  // batch of k*b (for models without BN). The totals need every batch's labels at each output's size, known once
  // the first batch has gone through the model.
  std::vector<std::vector<double>> share;  // [output][batch]
  double step_loss = 0;
  // Batches arrive on the CPU. Labels stay there for the valid-pixel counts and the nearest-neighbour subsampling
  // (host loops); the images and the labels the loss compares against are copied to the training device.
  for (int j = 0; j < k; ++j) {
    const Tensor images = batches[j].images.to(options_.device, /*non_blocking=*/true);
    std::vector<Tensor> outputs = model_.forward_all_scales(images);
    ATROUS_CHECK(!outputs.empty(), "Trainer: ", model_.definition().name, " returned no outputs");
    if (j == 0) {
      share.assign(outputs.size(), std::vector<double>(k, 0.0));
      std::vector<double> totals(outputs.size(), 0.0);
      for (size_t o = 0; o < outputs.size(); ++o) {
        for (int b = 0; b < k; ++b) {
          ATROUS_CHECK(batches[b].labels.size(1) == batches[0].labels.size(1) &&
                           batches[b].labels.size(2) == batches[0].labels.size(2),
                       "Trainer: iter_size ", k, " needs batches of one size (training crops), got labels ",
                       batches[0].labels.description(), " and ", batches[b].labels.description());
          share[o][b] = valid_weight(loss_labels(outputs[o], batches[b].labels, options_.loss_resolution, align),
                                     m.ignore_index, options_.class_weights);
          totals[o] += share[o][b];
        }
      }
      // Data-parallel: shares of the global batch, the valid pixels of every rank's slice together.
      options_.ranks->all_reduce_sum(totals.data(), static_cast<int64_t>(totals.size()));
      for (size_t o = 0; o < outputs.size(); ++o)
        for (int b = 0; b < k; ++b) share[o][b] = totals[o] > 0 ? share[o][b] / totals[o] : 0.0;
    }
    ATROUS_CHECK(outputs.size() == share.size(), "Trainer: the model returned ", outputs.size(),
                 " outputs for one batch and ", share.size(), " for another");
    Tensor loss;
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (share[o][j] == 0.0) continue;  // every pixel ignored: no gradient, and 0 * NaN must not appear
      Tensor l = softmax_cross_entropy(
          loss_logits(outputs[o], batches[j].labels, options_.loss_resolution, align),
          loss_labels(outputs[o], batches[j].labels, options_.loss_resolution, align).to(options_.device),
          m.loss_params);
      l = share[o][j] == 1.0 ? l : scale(l, share[o][j]);
      loss = loss.defined() ? add(loss, l) : l;
    }
    if (!loss.defined()) continue;
    const double value = loss.item<double>();
    ATROUS_CHECK(std::isfinite(value), "Trainer: the loss is ", value, " at iteration ", iteration_, " (lr ", lr,
                 "); training diverged");
    step_loss += value;
    // Data-parallel: the step's gradients are complete in its last backward, which starts reducing them.
    const auto overlap = j == k - 1 ? m.reducer->overlap_with_backward() : nullptr;
    loss.backward();
  }
  if (options_.ranks->size() > 1) {
    // Each rank's loss is its share of the global batch's, so the sums are one process's gradient and loss.
    const dist::GradientReductionStats reduced = m.reducer->finish();
    m.bytes_all_reduced_per_step = reduced.bytes;
    m.buckets_per_step = reduced.buckets;
    m.buckets_overlapped += reduced.buckets_started_in_backward;
    m.gradient_finish_seconds += reduced.wait_seconds;
    options_.ranks->all_reduce_sum(&step_loss, 1);
  }
  sgd_->step();
  ++iteration_;
  m.step_seconds += seconds_since(compute_start);
  for (const Batch& b : batches) m.images_this_run += b.images.size(0) * options_.ranks->size();
  return step_loss;
}

TrainResult Trainer::train() {
  Impl& m = *impl_;
  TrainResult result;
  dist::Communicator& ranks = *options_.ranks;
  const bool writing = !options_.out_dir.empty() && ranks.is_root();
  if (writing) {
    std::filesystem::create_directories(options_.out_dir);
    if (!m.log) m.log = std::make_unique<TrainingLog>(options_.out_dir, -1);
  }
  ScopedStopSignals stop_signals(options_.handle_sigint);
  clear_training_stop();
  ProgressBar bar(stderr, ProgressBar::stderr_is_terminal(), options_.log_every);

  const auto run_start = Clock::now();
  double validation_seconds = 0;
  const int64_t first_iteration = iteration_;
  // Running means since the last log row.
  double period_loss = 0;
  int64_t period_steps = 0;
  int64_t period_images = 0;
  auto period_start = Clock::now();
  double period_excluded = 0;  // validation/checkpoint time inside the period, not training throughput

  // Files record how the model was validated, so that `evaluate` and `segment` reproduce the logged figures.
  const RecordedInference validated_as{options_.validation.scales, options_.validation.flip};
  auto write_checkpoint = [&](const std::string& why) {
    if (!writing) return;
    TrainingState state;
    state.iteration = iteration_;
    state.epoch = m.epoch;
    state.data_rng = {m.loader_options.seed, static_cast<uint64_t>(m.batches_consumed)};
    state.dropout_rng = GeneratorState::of(default_generator());
    state.extra["batch_in_epoch"] = std::to_string(m.batch_in_epoch);
    state.extra["model"] = model_.definition().name;
    state.extra["global_batch"] = std::to_string(int64_t(m.loader_options.batch_size) * ranks.size());
    state.extra["ranks"] = std::to_string(ranks.size());
    save_checkpoint(checkpoint_path(), model_, *sgd_, state, inference_metadata(validated_as));
    result.checkpoint = checkpoint_path();
    if (options_.progress)
      bar.message("checkpoint at iteration " + std::to_string(iteration_) + " (" + why + "): " + checkpoint_path());
  };
  auto validate = [&]() -> double {
    if (!m.val_set) return -1;
    const auto start = Clock::now();
    EvaluationResult r = evaluate(model_, *m.val_set, options_.validation);
    model_.train(true);
    const double miou = r.confusion.mean_iou();
    ++result.validations;
    if (options_.progress)
      bar.message("validation at iteration " + std::to_string(iteration_) + ": mIoU " + format_number(miou) +
                  ", pixel accuracy " + format_number(r.confusion.pixel_accuracy()) + " (" + std::to_string(r.images) +
                  " images, " + ProgressBar::format_duration(seconds_since(start)) + ")");
    if (writing) {
      std::ofstream json(options_.out_dir + "/validation.json");
      json << r.json() << "\n";
    }
    result.validation = std::move(r);
    validation_seconds += seconds_since(start);
    return miou;
  };

  while (iteration_ < options_.max_iterations) {
    const double lr = options_.lr_policy.lr_at(iteration_);
    const int64_t images_before = m.images_this_run;
    const double loss = step();
    period_loss += loss;
    ++period_steps;
    period_images += m.images_this_run - images_before;
    if (options_.on_step) options_.on_step(iteration_, loss, lr);

    const bool last = iteration_ == options_.max_iterations;
    // Ctrl-C reaches one rank or all of them; every rank must stop after the same step.
    int64_t stop_votes = training_stop_requested() ? 1 : 0;
    ranks.all_reduce_sum(&stop_votes, 1);
    const bool stop = stop_votes > 0;
    // Ctrl-C skips a due validation: the user wants the checkpoint now, not after a pass over the validation set.
    const bool validate_now =
        m.val_set && !stop && (last || (options_.validate_every > 0 && iteration_ % options_.validate_every == 0));
    const double trained = seconds_since(run_start) - validation_seconds;
    const double per_step = trained / static_cast<double>(iteration_ - first_iteration);
    if (options_.progress) {
      ProgressState st;
      st.iteration = iteration_;
      st.total = options_.max_iterations;
      st.loss = period_loss / period_steps;
      st.lr = lr;
      st.images_per_second = period_images / std::max(1e-9, seconds_since(period_start) - period_excluded);
      st.eta_seconds = per_step * static_cast<double>(options_.max_iterations - iteration_);
      bar.update(st);
    }
    double val_miou = -1;
    if (validate_now) {
      const double before = validation_seconds;
      val_miou = validate();
      period_excluded += validation_seconds - before;
    }
    if (iteration_ % options_.log_every == 0 || last || stop || val_miou >= 0) {
      LogRow row;
      row.iteration = iteration_;
      row.epoch = m.epoch;
      row.loss = period_loss / period_steps;
      row.lr = lr;
      row.images_per_second = period_images / std::max(1e-9, seconds_since(period_start) - period_excluded);
      row.val_miou = val_miou;
      row.elapsed_seconds = m.elapsed_before + seconds_since(run_start);
      if (m.log) m.log->append(row);
      result.last_loss = row.loss;
      period_loss = 0;
      period_steps = 0;
      period_images = 0;
      period_excluded = 0;
      period_start = Clock::now();
    }
    if (stop) {
      result.interrupted = true;
      if (options_.progress) bar.message("interrupted: stopping after iteration " + std::to_string(iteration_));
      break;
    }
    if (options_.checkpoint_every > 0 && iteration_ % options_.checkpoint_every == 0 && !last)
      write_checkpoint("every " + std::to_string(options_.checkpoint_every));
  }
  if (options_.progress) bar.finish();
  if (iteration_ > first_iteration || result.interrupted) write_checkpoint(result.interrupted ? "Ctrl-C" : "end");
  // The weights alone, for `atrous evaluate` / `atrous segment` and for sharing (a checkpoint also works there).
  if (writing && !result.interrupted)
    save_module(options_.out_dir + "/weights.safetensors", model_, inference_metadata(validated_as));
  if (writing && options_.write_plot && m.log && !m.log->rows().empty()) {
    const std::string png = options_.out_dir + "/training_curves.png";
    write_training_curves(png, m.log->rows(), model_.definition().name + " training curves");
    if (options_.progress) bar.message("curves: " + png);
  }
  clear_training_stop();

  result.iterations = iteration_;
  result.steps_this_run = iteration_ - first_iteration;
  result.ranks = ranks.size();
  result.bytes_all_reduced_per_step = m.bytes_all_reduced_per_step;
  result.buckets_per_step = m.buckets_per_step;
  if (result.steps_this_run > 0) {
    result.buckets_overlapped_per_step = static_cast<double>(m.buckets_overlapped) / result.steps_this_run;
    result.gradient_finish_seconds_per_step = m.gradient_finish_seconds / result.steps_this_run;
  }
  result.seconds = seconds_since(run_start);
  const double train_seconds = result.seconds - validation_seconds;
  result.images_per_second = train_seconds > 0 ? m.images_this_run / train_seconds : 0;
  const double busy = m.step_seconds + m.data_wait_seconds;
  result.data_wait_fraction = busy > 0 ? m.data_wait_seconds / busy : 0;
  return result;
}

}  // namespace atrous
