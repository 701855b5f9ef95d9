// The Trainer: exact resume through the loader (N steps == N/2 + checkpoint + resume N/2, bit for bit), iter_size
// accumulation equal to one big batch for a model without BN (also with ignored pixels, class weights and a
// multi-scale model), Ctrl-C (a real SIGINT) finishing the step and checkpointing, validation on schedule, logs,
// the label subsampling, and the errors a caller can make.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/atrous.h"
#include "layers/conv2d.h"
#include "models/model_metadata.h"
#include "models/multi_scale.h"
#include "models/tiny_deeplab.h"
#include "support/plain_net.h"
#include "support/test_helpers.h"
#include "support/tiny_model.h"
#include "train/checkpoint.h"
#include "train/progress.h"
#include "train/trainer.h"
#include "train/training_log.h"

using namespace atrous;
using namespace atrous::testing;
namespace fs = std::filesystem;

namespace {

class TrainerTest : public ScratchDirTest {};

std::unique_ptr<SegmentationDataset> synthetic(int64_t count, const std::string& split = "train", int size = 32) {
  DatasetSpec spec;
  spec.kind = "synthetic";
  spec.split = split;
  spec.synthetic_size = size;
  spec.synthetic_classes = 4;
  spec.synthetic_count = count;
  spec.synthetic_seed = 5;
  return open_dataset(spec);
}

// Scale below 1 with a crop of the full size: padded borders carry the ignore label, so the loss has ignored pixels.
LoaderOptions loader_options(int batch, const Preprocessing& preprocessing) {
  LoaderOptions l;
  l.batch_size = batch;
  l.augmentation.crop_height = l.augmentation.crop_width = 32;
  l.augmentation.scale_min = 0.6;
  l.augmentation.scale_max = 1.2;
  l.augmentation.flip = true;
  l.preprocessing = preprocessing;
  l.workers = 2;
  l.prefetch_batches = 2;
  l.seed = 77;
  return l;
}

TrainerOptions quiet_options(int64_t iterations, const std::string& out_dir = "") {
  TrainerOptions o;
  o.max_iterations = iterations;
  o.sgd = SgdOptions{0.02, 0.9, 5e-4, false};
  o.lr_policy.kind = LrSchedule::poly;
  o.lr_policy.base_lr = 0.02;
  o.lr_policy.max_iterations = iterations;
  o.progress = false;
  o.log_every = 2;
  o.out_dir = out_dir;
  return o;
}

void expect_same_weights(const Module& a, const Module& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) EXPECT_TRUE(bitwise_equal(t, sb.at(name))) << name;
}

void expect_close_weights(const Module& a, const Module& b, double tol) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) {
    SCOPED_TRACE(name);
    expect_close(t, sb.at(name), tol);
  }
}

}  // namespace

// ---- exact resume ----

TEST_F(TrainerTest, ResumeContinuesBitForBitAcrossAnEpochBoundary) {
  // 12 images, batch 2: 6 batches per epoch, so 9 steps cross into the second epoch; the stop at 4 is mid-epoch.
  const auto data = synthetic(12);
  constexpr int64_t kSteps = 9;
  auto straight = tiny(3);
  std::vector<double> straight_losses;
  {
    TrainerOptions o = quiet_options(kSteps);
    o.bn = BnPolicy{};  // BN trained with batch statistics: running stats must resume too
    o.on_step = [&](int64_t, double loss, double) { straight_losses.push_back(loss); };
    Trainer trainer(*straight, *data, loader_options(2, straight->definition().preprocessing), o);
    EXPECT_EQ(trainer.train().iterations, kSteps);
  }
  // The same run stopped after step 4 (as Ctrl-C stops it), checkpointed, and continued by a fresh process-like
  // trainer whose model starts from other weights.
  std::vector<double> resumed_losses;
  {
    auto first = tiny(3);
    TrainerOptions o = quiet_options(kSteps, path("run"));
    o.bn = BnPolicy{};
    o.on_step = [&](int64_t iteration, double loss, double) {
      resumed_losses.push_back(loss);
      if (iteration == 4) request_training_stop();
    };
    Trainer trainer(*first, *data, loader_options(2, first->definition().preprocessing), o);
    const TrainResult r = trainer.train();
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.iterations, 4);
  }
  // Another generator state in between, as another process would have.
  default_generator().set_state(999, 12345);
  auto resumed = tiny(42);
  {
    TrainerOptions o = quiet_options(kSteps, path("run"));
    o.bn = BnPolicy{};
    o.on_step = [&](int64_t, double loss, double) { resumed_losses.push_back(loss); };
    Trainer trainer(*resumed, *data, loader_options(2, resumed->definition().preprocessing), o);
    trainer.resume(path("run/checkpoint.safetensors"));
    EXPECT_EQ(trainer.iteration(), 4);
    const TrainResult r = trainer.train();
    EXPECT_FALSE(r.interrupted);
    EXPECT_EQ(r.steps_this_run, kSteps - 4);
  }
  ASSERT_EQ(straight_losses.size(), resumed_losses.size());
  for (size_t i = 0; i < straight_losses.size(); ++i) EXPECT_EQ(straight_losses[i], resumed_losses[i]) << "step " << i;
  expect_same_weights(*straight, *resumed);
  // The log of the resumed run holds the whole run's rows exactly once.
  const auto rows = read_training_log_csv(path("run/train_log.csv"));
  ASSERT_FALSE(rows.empty());
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_LT(rows[i - 1].iteration, rows[i].iteration);
  EXPECT_EQ(rows.back().iteration, kSteps);
}

TEST_F(TrainerTest, ResumeRejectsAnotherDataSeedAndForeignCheckpoints) {
  const auto data = synthetic(8);
  auto model = tiny(1);
  {
    Trainer trainer(*model, *data, loader_options(2, model->definition().preprocessing), quiet_options(2, path("a")));
    trainer.train();
  }
  LoaderOptions other = loader_options(2, model->definition().preprocessing);
  other.seed = 78;
  Trainer trainer(*model, *data, other, quiet_options(4, path("b")));
  expect_error([&] { trainer.resume(path("a/checkpoint.safetensors")); }, {"checkpoint.safetensors", "seed"});
  // A checkpoint from the plain checkpoint API lacks the loader position.
  auto plain = tiny(1);
  Sgd sgd(plain->param_groups(), quiet_options(1).sgd);
  save_checkpoint(path("plain.safetensors"), *plain, sgd, TrainingState{});
  LoaderOptions seed0 = loader_options(2, plain->definition().preprocessing);
  seed0.seed = 0;
  Trainer zero_seed(*plain, *data, seed0, quiet_options(4));
  expect_error([&] { zero_seed.resume(path("plain.safetensors")); }, {"plain.safetensors", "batch_in_epoch"});
}

// ---- iter_size ----

TEST_F(TrainerTest, IterSizeTwoOfBatchTwoEqualsBatchFourWithoutBatchNorm) {
  const auto data = synthetic(16);
  for (LossResolution resolution : {LossResolution::Output, LossResolution::Input}) {
    SCOPED_TRACE(resolution == LossResolution::Output ? "labels subsampled" : "logits upsampled");
    Generator ga(9), gb(9);
    PlainNet big(4, ga), accumulated(4, gb);
    std::vector<double> big_losses, accumulated_losses;
    TrainerOptions o = quiet_options(3);
    o.loss_resolution = resolution;
    o.class_weights = {0.5f, 1.0f, 2.0f, 1.5f};
    o.on_step = [&](int64_t, double loss, double) { big_losses.push_back(loss); };
    Trainer a(big, *data, loader_options(4, big.definition().preprocessing), o);
    a.train();
    o.iter_size = 2;
    o.on_step = [&](int64_t, double loss, double) { accumulated_losses.push_back(loss); };
    Trainer b(accumulated, *data, loader_options(2, accumulated.definition().preprocessing), o);
    b.train();
    ASSERT_EQ(big_losses.size(), 3u);
    ASSERT_EQ(accumulated_losses.size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(big_losses[i], accumulated_losses[i], 1e-5 * (1 + big_losses[i]));
    expect_close_weights(big, accumulated, 1e-5);
    // And it is not trivially so: the weights moved.
    Generator gc(9);
    PlainNet untouched(4, gc);
    EXPECT_FALSE(same_bits(untouched.state_dict().at("classifier.weight"), big.state_dict().at("classifier.weight")));
  }
}

TEST_F(TrainerTest, IterSizeEquivalenceHoldsForMultiScaleLossesToo) {
  const auto data = synthetic(8);
  Generator ga(4), gb(4);
  MultiScaleOptions msc;
  msc.scales = {1.0, 0.5};
  MultiScale big(std::make_shared<PlainNet>(4, ga), msc), accumulated(std::make_shared<PlainNet>(4, gb), msc);
  TrainerOptions o = quiet_options(2);
  Trainer a(big, *data, loader_options(4, big.definition().preprocessing), o);
  const double big_loss = a.step();
  o.iter_size = 2;
  Trainer b(accumulated, *data, loader_options(2, accumulated.definition().preprocessing), o);
  const double accumulated_loss = b.step();
  EXPECT_NEAR(big_loss, accumulated_loss, 1e-5 * (1 + big_loss));
  expect_close_weights(big, accumulated, 1e-5);
}

TEST_F(TrainerTest, SegmentationLossSumsOneLossPerOutputAtItsResolution) {
  Generator gen(2);
  const Tensor labels = Tensor::from_vector<uint8_t>({0, 1, 1, 2, 255, 1, 0, 0, 2, 2, 1, 0, 1, 1, 0, 2}, {1, 4, 4});
  const Tensor full = Tensor::randn({1, 4, 4, 3}, gen), half = Tensor::randn({1, 2, 2, 3}, gen);
  // Output resolution: each output against the labels subsampled to its size.
  const Tensor expected =
      add(softmax_cross_entropy(full, labels), softmax_cross_entropy(half, resize_labels_nearest(labels, 2, 2, true)));
  expect_close(segmentation_loss({full, half}, labels, LossResolution::Output, true, {}), expected, 1e-6);
  // Input resolution: the half-size logits are upsampled to the labels instead.
  const Tensor up = resize_bilinear(half, ResizeParams::to_size(4, 4, true));
  expect_close(segmentation_loss({full, half}, labels, LossResolution::Input, true, {}),
               add(softmax_cross_entropy(full, labels), softmax_cross_entropy(up, labels)), 1e-6);
}

TEST_F(TrainerTest, LabelsAreSubsampledWhereTheLogitsSample) {
  // 5 -> 3 with align_corners: rows/cols 0, 2, 4 (corners stay on corners).
  std::vector<uint8_t> values(25);
  for (int i = 0; i < 25; ++i) values[i] = static_cast<uint8_t>(i);
  const Tensor labels = Tensor::from_vector(values, {1, 5, 5});
  EXPECT_EQ(resize_labels_nearest(labels, 3, 3, true).to_double_vector(),
            (std::vector<double>{0, 2, 4, 10, 12, 14, 20, 22, 24}));
  // 4 -> 2 without: half-pixel centres 0.5 and 2.5 round up to 1 and 3.
  const Tensor four = Tensor::from_vector(std::vector<uint8_t>(values.begin(), values.begin() + 16), {1, 4, 4});
  EXPECT_EQ(resize_labels_nearest(four, 2, 2, false).to_double_vector(), (std::vector<double>{5, 7, 13, 15}));
  // Same size: unchanged; bad inputs named.
  EXPECT_TRUE(same_bits(resize_labels_nearest(four, 4, 4, true), four));
  expect_error(
      [&] {
        resize_labels_nearest(Tensor::zeros({4, 4}, DType::u8), 2, 2, true);
      },
      {"resize_labels_nearest", "u8"});
  expect_error([&] { resize_labels_nearest(four, 0, 2, true); }, {"resize_labels_nearest", "0x2"});
}

// ---- Ctrl-C, validation, logs ----

namespace {
volatile std::sig_atomic_t g_outer_handler_calls = 0;
extern "C" void outer_handler(int) { g_outer_handler_calls = g_outer_handler_calls + 1; }
}  // namespace

TEST_F(TrainerTest, SigintFinishesTheStepWritesACheckpointAndRestoresTheHandler) {
  const auto data = synthetic(8);
  auto model = tiny(5);
  auto previous = std::signal(SIGINT, outer_handler);
  int64_t steps_seen = 0;
  TrainerOptions o = quiet_options(50, path("run"));
  o.on_step = [&](int64_t iteration, double, double) {
    steps_seen = iteration;
    if (iteration == 3) std::raise(SIGINT);  // delivered to the trainer's handler, synchronously
  };
  Trainer trainer(*model, *data, loader_options(2, model->definition().preprocessing), o);
  const TrainResult r = trainer.train();
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(steps_seen, 3);
  EXPECT_EQ(r.iterations, 3);
  EXPECT_EQ(g_outer_handler_calls, 0);
  ASSERT_TRUE(fs::exists(path("run/checkpoint.safetensors")));
  EXPECT_FALSE(fs::exists(path("run/weights.safetensors")));  // only a finished run writes final weights
  // The checkpoint holds the model as it was after step 3.
  auto check = tiny(77);
  Sgd sgd(check->param_groups(), o.sgd);
  EXPECT_EQ(load_checkpoint(path("run/checkpoint.safetensors"), *check, sgd).iteration, 3);
  expect_same_weights(*model, *check);
  // Our handler is back in place, and the stop flag is cleared for the next run.
  std::raise(SIGINT);
  EXPECT_EQ(g_outer_handler_calls, 1);
  EXPECT_FALSE(training_stop_requested());
  std::signal(SIGINT, previous);
}

TEST_F(TrainerTest, ValidatesOnScheduleAndLogsEveryRowAsCsvAndJsonLines) {
  const auto data = synthetic(8);
  const auto val = synthetic(3, "val");
  auto model = tiny(6);
  TrainerOptions o = quiet_options(7, path("run"));
  o.validate_every = 3;
  o.checkpoint_every = 4;
  o.log_every = 2;
  o.validation.scales = {0.75, 1.0};
  o.validation.flip = true;
  std::vector<int64_t> iterations;
  o.on_step = [&](int64_t iteration, double, double) { iterations.push_back(iteration); };
  Trainer trainer(*model, *data, loader_options(2, model->definition().preprocessing), o, val.get());
  const TrainResult r = trainer.train();
  EXPECT_EQ(iterations, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(r.validations, 3);  // at 3, 6 and the end (7)
  ASSERT_TRUE(r.validation.has_value());
  EXPECT_EQ(r.validation->images, 3);
  EXPECT_TRUE(model->is_training());  // back in training mode after validating

  const auto rows = read_training_log_csv(path("run/train_log.csv"));
  std::vector<int64_t> logged, validated;
  for (const LogRow& row : rows) {
    logged.push_back(row.iteration);
    if (row.val_miou >= 0) validated.push_back(row.iteration);
    EXPECT_GT(row.loss, 0);
    EXPECT_GT(row.lr, 0);
    EXPECT_GT(row.images_per_second, 0);
  }
  EXPECT_EQ(logged, (std::vector<int64_t>{2, 3, 4, 6, 7}));
  EXPECT_EQ(validated, (std::vector<int64_t>{3, 6, 7}));
  EXPECT_NEAR(rows.back().val_miou, r.validation->confusion.mean_iou(), 1e-8);  // 9 significant digits in the CSV
  // The JSON lines file has the same rows, with null where no validation ran.
  std::ifstream jsonl(path("run/train_log.jsonl"));
  std::string line;
  int lines = 0, nulls = 0;
  while (std::getline(jsonl, line)) {
    ++lines;
    EXPECT_NE(line.find("\"iteration\": "), std::string::npos) << line;
    if (line.find("\"val_miou\": null") != std::string::npos) ++nulls;
  }
  EXPECT_EQ(lines, 5);
  EXPECT_EQ(nulls, 2);
  for (const char* file : {"checkpoint.safetensors", "weights.safetensors", "validation.json", "training_curves.png"})
    EXPECT_TRUE(fs::exists(path(std::string("run/") + file))) << file;
  // Weights and checkpoint record how the model was validated, for `evaluate` and `segment` to reproduce.
  for (const char* file : {"checkpoint.safetensors", "weights.safetensors"}) {
    const auto recorded = recorded_inference(SafetensorsFile(path(std::string("run/") + file)));
    ASSERT_TRUE(recorded.has_value()) << file;
    EXPECT_EQ(recorded->scales, (std::vector<double>{0.75, 1.0})) << file;
    EXPECT_TRUE(recorded->flip) << file;
  }
}

TEST_F(TrainerTest, WrongClassCountsAndSettingsAreErrors) {
  const auto data = synthetic(8);
  Generator gen(1);
  PlainNet five(5, gen);
  expect_error([&] { Trainer t(five, *data, loader_options(2, five.definition().preprocessing), quiet_options(2)); },
               {"5 classes", "synthetic"});
  auto model = tiny(1);
  TrainerOptions o = quiet_options(2);
  o.iter_size = 0;
  expect_error([&] { Trainer t(*model, *data, loader_options(2, model->definition().preprocessing), o); },
               {"iter_size"});
  o = quiet_options(2);
  o.class_weights = {1, 2};
  expect_error([&] { Trainer t(*model, *data, loader_options(2, model->definition().preprocessing), o); },
               {"2 class weights", "4 classes"});
  expect_error([] { lr_schedules().parse("cosine"); }, {"cosine", "poly, step, constant"});
  expect_error([] { loss_resolutions().parse("middle"); }, {"middle", "output, input"});
  // A training set without one full batch.
  const auto tiny_set = synthetic(1);
  expect_error(
      [&] { Trainer t(*model, *tiny_set, loader_options(2, model->definition().preprocessing), quiet_options(2)); },
      {"fewer images", "synthetic"});
}

TEST_F(TrainerTest, FrozenBatchNormIsLeftOutOfTheOptimizer) {
  const auto data = synthetic(4);
  auto model = tiny(8);
  const Tensor bn_weight = model->state_dict().at("stage1_bn.weight").clone();
  const Tensor bn_mean = model->state_dict().at("stage1_bn.running_mean").clone();
  TrainerOptions o = quiet_options(2);
  o.bn = BnPolicy{BnPolicyMode::frozen};
  Trainer trainer(*model, *data, loader_options(2, model->definition().preprocessing), o);
  trainer.train();
  EXPECT_TRUE(same_bits(model->state_dict().at("stage1_bn.weight"), bn_weight));
  EXPECT_TRUE(same_bits(model->state_dict().at("stage1_bn.running_mean"), bn_mean));
  EXPECT_FALSE(same_bits(model->state_dict().at("stage1_conv.weight"), tiny(8)->state_dict().at("stage1_conv.weight")));
}

// ---- progress ----

TEST(ProgressBar, FormatsStateAndPrintsPlainLinesOnSchedule) {
  ProgressState st;
  st.iteration = 120;
  st.total = 2000;
  st.loss = 0.53214;
  st.lr = 0.0012;
  st.images_per_second = 5.31;
  st.eta_seconds = 192;
  EXPECT_EQ(ProgressBar::format(st, false), "120/2000  loss 0.5321  lr 1.20e-03  5.3 img/s  ETA 3m12s");
  EXPECT_EQ(ProgressBar::format(st, true).substr(0, 26), "[#-----------------------]");
  EXPECT_EQ(ProgressBar::format_duration(42), "42s");
  EXPECT_EQ(ProgressBar::format_duration(3725), "1h02m");
  EXPECT_EQ(ProgressBar::format_duration(-1), "?");

  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  ProgressBar bar(out, /*interactive=*/false, 3);
  for (int i = 1; i <= 7; ++i) {
    st.iteration = i;
    st.total = 7;
    bar.update(st);
  }
  bar.message("validation: ok");
  bar.finish();
  std::rewind(out);
  std::string text;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, out)) text += buffer;
  std::fclose(out);
  EXPECT_NE(text.find("iteration 3/7"), std::string::npos) << text;
  EXPECT_NE(text.find("iteration 6/7"), std::string::npos) << text;
  EXPECT_NE(text.find("iteration 7/7"), std::string::npos) << text;
  EXPECT_EQ(text.find("iteration 4/7"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << "no carriage returns in a log file";
  EXPECT_NE(text.find("validation: ok\n"), std::string::npos);
}
