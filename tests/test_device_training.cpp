// The device option of the Trainer, the Evaluator and inference: CPU by default and unchanged there; a CUDA device
// that is not there is a clear error raised before anything moves; on a CUDA device (skipped without one) a short
// TinyDeepLab run matches the CPU run of the same seed (losses within 1e-3 relative: the kernels are fp32 but sum in
// other orders), a checkpoint written on CUDA resumes on CUDA exactly and on the CPU closely, momentum buffers live
// on the parameters' device, inference and evaluation match the CPU, and weight files move between devices.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include "core/atrous.h"
#include "core/device_name.h"
#include "eval/evaluator.h"
#include "models/inference.h"
#include "models/pytorch_weights.h"
#include "models/tiny_deeplab.h"
#include "solvers/bn_policy.h"
#include "support/test_helpers.h"
#include "support/tiny_model.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

using namespace atrous;
using namespace atrous::testing;

// GTEST_SKIP returns from the enclosing function, so this has to be a macro.
#define SKIP_WITHOUT_CUDA() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible (or CPU-only build): CUDA test skipped"

namespace {

class DeviceTrainingTest : public ScratchDirTest {};

// Relative tolerance of CUDA results against the CPU's for the same seed: both fp32, reductions in other orders.
constexpr double kLossTolerance = 1e-3;

std::unique_ptr<SegmentationDataset> synthetic(int64_t count, const std::string& split = "train") {
  DatasetSpec spec;
  spec.kind = "synthetic";
  spec.split = split;
  spec.synthetic_size = 32;
  spec.synthetic_classes = 4;
  spec.synthetic_count = count;
  spec.synthetic_seed = 5;
  return open_dataset(spec);
}

LoaderOptions loader_options(const Preprocessing& preprocessing) {
  LoaderOptions l;
  l.batch_size = 2;
  l.augmentation.crop_height = l.augmentation.crop_width = 32;
  l.augmentation.scale_min = 0.75;
  l.augmentation.scale_max = 1.25;
  l.augmentation.flip = true;
  l.preprocessing = preprocessing;
  l.workers = 2;
  l.prefetch_batches = 2;
  l.seed = 11;
  return l;
}

TrainerOptions quiet_options(int64_t iterations, Device device, const std::string& out_dir = "") {
  TrainerOptions o;
  o.device = device;
  o.max_iterations = iterations;
  o.sgd = SgdOptions{0.02, 0.9, 5e-4, false};
  o.lr_policy.kind = LrSchedule::poly;
  o.lr_policy.base_lr = 0.02;
  o.lr_policy.max_iterations = iterations;
  o.bn = BnPolicy{};  // batch statistics in training, running statistics updated: buffers must follow the device
  o.progress = false;
  o.handle_sigint = false;
  o.write_plot = false;
  o.log_every = 2;
  o.out_dir = out_dir;
  return o;
}

Tensor random_image(int64_t h, int64_t w, uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform({h, w, 3}, 0, 255, gen).to(DType::u8);
}

struct TrainingRun {
  std::vector<double> losses;
  TrainResult result;
};

TrainingRun train(SegmentationModel& model, const SegmentationDataset& data, TrainerOptions options,
                  const SegmentationDataset* val = nullptr) {
  TrainingRun run;
  options.on_step = [&](int64_t, double loss, double) { run.losses.push_back(loss); };
  Trainer trainer(model, data, loader_options(model.definition().preprocessing), options, val);
  run.result = trainer.train();
  return run;
}

void expect_losses_close(const std::vector<double>& actual, const std::vector<double>& expected, double rel) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], rel * std::abs(expected[i])) << "step " << i;
}

void expect_on(const Module& module, Device device) {
  for (const NamedTensor& p : module.named_parameters()) EXPECT_EQ(p.tensor.device(), device) << p.name;
  for (const NamedTensor& b : module.named_buffers()) EXPECT_EQ(b.tensor.device(), device) << b.name;
}

void expect_same_state(const Module& a, const Module& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa)
    EXPECT_TRUE(bitwise_equal(t.to(Device::cpu()), sb.at(name).to(Device::cpu()))) << name;
}

}  // namespace

// ---- the CPU: the default, unchanged ----

TEST(DeviceOptions, EveryApiDefaultsToTheCpu) {
  const TrainerOptions trainer;
  const EvaluationOptions evaluation;
  const InferenceOptions inference;
  EXPECT_EQ(trainer.device, Device::cpu());
  EXPECT_EQ(evaluation.device, Device::cpu());
  EXPECT_EQ(inference.device, Device::cpu());
}

TEST_F(DeviceTrainingTest, AnExplicitCpuDeviceTrainsBitForBitAsTheDefault) {
  const auto data = synthetic(8);
  auto implicit = tiny(3), explicit_cpu = tiny(3);
  const TrainerOptions untouched;
  TrainerOptions defaults = quiet_options(3, Device::cpu());
  defaults.device = untouched.device;
  const TrainingRun a = train(*implicit, *data, defaults);
  const TrainingRun b = train(*explicit_cpu, *data, quiet_options(3, Device::cpu()));
  EXPECT_EQ(a.losses, b.losses);
  expect_same_state(*implicit, *explicit_cpu);
  expect_on(*explicit_cpu, Device::cpu());
}

TEST(DeviceOptions, CpuInferenceAndEvaluationAreUnchanged) {
  auto model = tiny(4);
  const Tensor image = random_image(30, 41, 2);
  InferenceOptions inference;
  inference.preprocessing = model->definition().preprocessing;
  inference.device = Device::cpu();
  const Tensor logits = predict_logits(*model, image, inference);
  EXPECT_EQ(logits.device(), Device::cpu());
  EvaluationOptions evaluation;  // the model's own preprocessing, as above
  EXPECT_TRUE(bitwise_equal(infer_image(*model, image, evaluation), logits));
}

TEST(DeviceOptions, AMissingCudaDeviceIsAClearErrorBeforeAnythingMoves) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is visible: the missing-device error cannot be provoked";
  const auto data = synthetic(4);
  auto model = tiny(1);
  expect_error([&] { train(*model, *data, quiet_options(1, Device::cuda(0))); }, {"Trainer: cuda:0 is not available"});
  expect_on(*model, Device::cpu());
  EvaluationOptions evaluation;
  evaluation.device = Device::cuda(0);
  expect_error([&] { evaluate(*model, *data, evaluation); }, {"evaluate: cuda:0 is not available"});
  InferenceOptions inference;
  inference.device = Device::cuda(1);
  expect_error([&] { predict_logits(*model, random_image(8, 8, 1), inference); },
               {"predict_logits: cuda:1 is not available"});
  expect_on(*model, Device::cpu());
}

// ---- a CUDA device ----

TEST(DeviceModule, ToMovesParametersAndBuffersKeepingRequiresGrad) {
  SKIP_WITHOUT_CUDA();
  auto model = tiny(5);
  BnPolicy frozen;
  frozen.mode = BnPolicyMode::frozen;
  apply_bn_policy(*model, frozen);  // BN parameters stop requiring grad: that must survive the move
  const auto before = model->state_dict();
  std::map<std::string, bool> trainable;
  for (const NamedTensor& p : model->named_parameters()) trainable[p.name] = p.tensor.requires_grad();
  model->to(Device::cuda(0));
  expect_on(*model, Device::cuda(0));
  for (const NamedTensor& p : model->named_parameters()) {
    EXPECT_TRUE(p.tensor.is_leaf()) << p.name;
    EXPECT_EQ(p.tensor.requires_grad(), trainable.at(p.name)) << p.name;
  }
  for (const auto& [name, t] : model->state_dict()) EXPECT_TRUE(bitwise_equal(t.to(Device::cpu()), before.at(name)));
  model->to(Device::cpu());
  expect_on(*model, Device::cpu());
  for (const auto& [name, t] : model->state_dict()) EXPECT_TRUE(bitwise_equal(t, before.at(name))) << name;
}

TEST_F(DeviceTrainingTest, TrainingOnCudaMatchesTheCpuRunOfTheSameSeed) {
  SKIP_WITHOUT_CUDA();
  const auto data = synthetic(8);
  const auto val = synthetic(4, "val");
  auto on_cpu = tiny(3), on_cuda = tiny(3);
  TrainerOptions cpu_options = quiet_options(4, Device::cpu());
  cpu_options.validate_every = 2;
  TrainerOptions cuda_options = cpu_options;
  cuda_options.device = Device::cuda(0);
  const TrainingRun cpu = train(*on_cpu, *data, cpu_options, val.get());
  const TrainingRun cuda = train(*on_cuda, *data, cuda_options, val.get());
  expect_losses_close(cuda.losses, cpu.losses, kLossTolerance);
  expect_on(*on_cuda, Device::cuda(0));
  ASSERT_TRUE(cpu.result.validation && cuda.result.validation);
  EXPECT_EQ(cuda.result.validations, 2);
  // A handful of pixels may flip where two classes' logits nearly tie.
  EXPECT_NEAR(cuda.result.validation->confusion.mean_iou(), cpu.result.validation->confusion.mean_iou(), 0.02);
  const auto cpu_state = on_cpu->state_dict();
  for (const auto& [name, t] : on_cuda->state_dict()) {
    SCOPED_TRACE(name);
    expect_close(t, cpu_state.at(name), kLossTolerance);
  }
}

TEST_F(DeviceTrainingTest, ClassWeightsAndIterSizeRunOnCuda) {
  SKIP_WITHOUT_CUDA();
  const auto data = synthetic(8);
  auto on_cpu = tiny(6), on_cuda = tiny(6);
  TrainerOptions options = quiet_options(2, Device::cpu());
  options.iter_size = 2;
  options.class_weights = {0.5f, 1.0f, 2.0f, 1.5f};
  options.loss_resolution = LossResolution::Input;
  const TrainingRun cpu = train(*on_cpu, *data, options);
  options.device = Device::cuda(0);
  const TrainingRun cuda = train(*on_cuda, *data, options);
  expect_losses_close(cuda.losses, cpu.losses, kLossTolerance);
}

TEST_F(DeviceTrainingTest, ACheckpointWrittenOnCudaResumesOnCudaAndOnTheCpu) {
  SKIP_WITHOUT_CUDA();
  const auto data = synthetic(8);
  constexpr int64_t kSteps = 6;
  auto straight = tiny(3);
  const TrainingRun whole = train(*straight, *data, quiet_options(kSteps, Device::cuda(0)));

  // The same run stopped after step 3 and checkpointed on the device.
  auto first = tiny(3);
  TrainerOptions stopping = quiet_options(kSteps, Device::cuda(0), path("run"));
  std::vector<double> first_losses;
  stopping.on_step = [&](int64_t iteration, double loss, double) {
    first_losses.push_back(loss);
    if (iteration == 3) request_training_stop();
  };
  {
    Trainer trainer(*first, *data, loader_options(first->definition().preprocessing), stopping);
    ASSERT_TRUE(trainer.train().interrupted);
  }
  // A copy: each continued run writes its own final checkpoint into its out_dir.
  const std::string checkpoint = path("step3.safetensors");
  std::filesystem::copy_file(path("run/checkpoint.safetensors"), checkpoint);

  // Continued on CUDA by a fresh model: the device's kernels are deterministic, so it matches the straight run.
  auto resumed = tiny(42);
  std::vector<double> resumed_losses = first_losses;
  {
    TrainerOptions o = quiet_options(kSteps, Device::cuda(0), path("cuda-run"));
    o.on_step = [&](int64_t, double loss, double) { resumed_losses.push_back(loss); };
    Trainer trainer(*resumed, *data, loader_options(resumed->definition().preprocessing), o);
    trainer.resume(checkpoint);
    EXPECT_EQ(trainer.iteration(), 3);
    // Momentum comes back onto the parameters' device.
    for (const Tensor& v : trainer.optimizer().momentum_buffers()) {
      if (v.defined()) {
        EXPECT_EQ(v.device(), Device::cuda(0)) << v.description();
      }
    }
    trainer.train();
  }
  expect_losses_close(resumed_losses, whole.losses, 1e-6);
  expect_on(*resumed, Device::cuda(0));

  // The same checkpoint continued on the CPU: close to the CUDA run, within the devices' rounding.
  auto on_cpu = tiny(43);
  std::vector<double> cpu_losses = first_losses;
  {
    TrainerOptions o = quiet_options(kSteps, Device::cpu(), path("cpu-run"));
    o.on_step = [&](int64_t, double loss, double) { cpu_losses.push_back(loss); };
    Trainer trainer(*on_cpu, *data, loader_options(on_cpu->definition().preprocessing), o);
    trainer.resume(checkpoint);
    for (const Tensor& v : trainer.optimizer().momentum_buffers()) {
      if (v.defined()) {
        EXPECT_EQ(v.device(), Device::cpu()) << v.description();
      }
    }
    trainer.train();
  }
  expect_losses_close(cpu_losses, whole.losses, kLossTolerance);

  // The weights in the checkpoint are the CUDA model's at step 3, readable into a CPU model.
  auto reader = tiny(44);
  load_checkpoint_model(checkpoint, *reader);
  expect_on(*reader, Device::cpu());
}

TEST_F(DeviceTrainingTest, WeightFilesMoveBetweenDevices) {
  SKIP_WITHOUT_CUDA();
  auto source = tiny(7);
  source->to(Device::cuda(0));
  save_module(path("ours.safetensors"), *source);
  export_pytorch_weights(path("torch.safetensors"), *source);

  auto cpu_model = tiny(8);
  load_module(path("ours.safetensors"), *cpu_model);
  expect_on(*cpu_model, Device::cpu());
  expect_same_state(*cpu_model, *source);

  auto cuda_model = tiny(9);
  cuda_model->to(Device::cuda(0));
  load_weights_any(path("torch.safetensors"), *cuda_model, /*strict=*/true);
  expect_on(*cuda_model, Device::cuda(0));
  expect_same_state(*cuda_model, *source);
}

TEST(DeviceInference, CudaLogitsMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  auto model = tiny(4);
  model->eval();
  const Tensor image = random_image(37, 45, 2);
  InferenceOptions options;
  options.preprocessing = model->definition().preprocessing;
  options.scales = {0.75, 1.0};
  options.flip = true;
  const Tensor cpu = predict_logits(*model, image, options);
  options.device = Device::cuda(0);
  const Tensor cuda = predict_logits(*model, image, options);
  EXPECT_EQ(cuda.device(), Device::cpu());  // logits come back for PNGs and .npy files
  expect_on(*model, Device::cuda(0));
  expect_close(cuda, cpu, 1e-4);
}

TEST(DeviceInference, SlidingWindowsAndEvaluationOnCudaMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  auto model = tiny(4);
  const Tensor image = random_image(40, 52, 3);
  EvaluationOptions options;
  options.crop_size = 24;  // several overlapping windows, padded at the border
  options.flip = true;
  const Tensor cpu = infer_image(*model, image, options);
  options.device = Device::cuda(0);
  const Tensor cuda = infer_image(*model, image, options);
  EXPECT_EQ(cuda.device(), Device::cpu());
  expect_close(cuda, cpu, 1e-4);

  const auto val = synthetic(4, "val");
  EvaluationOptions whole;
  const EvaluationResult on_cpu = evaluate(*model, *val, whole);
  whole.device = Device::cuda(0);
  const EvaluationResult on_cuda = evaluate(*model, *val, whole);
  EXPECT_EQ(on_cuda.images, on_cpu.images);
  EXPECT_NEAR(on_cuda.confusion.mean_iou(), on_cpu.confusion.mean_iou(), 0.02);
}

TEST(DeviceLoss, LabelsOnEitherDeviceGiveTheSameLoss) {
  SKIP_WITHOUT_CUDA();
  Generator gen(2);
  const Tensor logits = Tensor::randn({2, 8, 8, 4}, gen);
  const Tensor labels = Tensor::uniform({2, 32, 32}, 0, 4, gen).to(DType::u8);
  EXPECT_TRUE(bitwise_equal(resize_labels_nearest(labels.to(Device::cuda(0)), 8, 8, true).to(Device::cpu()),
                            resize_labels_nearest(labels, 8, 8, true)));
  CrossEntropyParams params;
  const double cpu = segmentation_loss({logits}, labels, LossResolution::Output, true, params).item<double>();
  const Tensor on_device = logits.to(Device::cuda(0));
  for (const Tensor& l : {labels, labels.to(Device::cuda(0))}) {
    const double cuda = segmentation_loss({on_device}, l, LossResolution::Output, true, params).item<double>();
    EXPECT_NEAR(cuda, cpu, 1e-5 * std::abs(cpu)) << l.description();
  }
}
