// What CUDA must do beyond matching the CPU op by op (that is the op case table's job: tests/test_op_cases.cpp):
// in-place accumulation, errors for mixed devices and bad labels, integer concatenation, dropout's mask bit for bit,
// the fused inference conv, deterministic backward passes, a TinyDeepLab training step, the caching allocator,
// host/device copies, copies into views and dtype conversions. Tolerances are relative to the largest reference
// element (testing::expect_matches). Skips with a reason when no GPU is visible (or the build has no CUDA).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/atrous.h"
#include "core/cuda_runtime.h"
#include "models/tiny_deeplab.h"
#include "solvers/sgd.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;
using atrous::testing::expect_matches;
using atrous::testing::same_bits;

#define REQUIRE_GPU() ATROUS_REQUIRE_CUDA()

namespace {

const Device kGpu = Device::cuda(0);

Tensor random(const Shape& shape, Generator& gen, DType dtype = DType::f32) {
  return Tensor::uniform(shape, -1.0, 1.0, gen, dtype);
}

}  // namespace

TEST(CudaOps, AxpyAccumulatesInPlace) {
  REQUIRE_GPU();
  Generator gen(2);
  Tensor a = random({1000}, gen), b = random({1000}, gen);
  Tensor a_gpu = a.to(kGpu);
  axpy_(a, 0.75, b);
  axpy_(a_gpu, 0.75, b.to(kGpu));
  expect_matches(a_gpu, a, 1e-6, "axpy_");
}

TEST(CudaOps, MixedDevicesAreAnErrorNamingOpAndDevices) {
  REQUIRE_GPU();
  Tensor a = Tensor::ones({4}), b = Tensor::ones({4}, DType::f32, kGpu);
  expect_error([&] { add(a, b); }, {"add", "cpu", "cuda:0"});
  Tensor x = Tensor::ones({1, 5, 5, 2}, DType::f32, kGpu), w = Tensor::ones({3, 3, 3, 2});
  expect_error([&] { conv2d(x, w, Tensor()); }, {"conv2d", "cuda:0", "cpu"});
  Tensor logits = Tensor::ones({1, 2, 2, 3}, DType::f32, kGpu), labels = Tensor::zeros({1, 2, 2}, DType::i32);
  expect_error([&] { softmax_cross_entropy(logits, labels); }, {"softmax_cross_entropy", "cuda:0", "cpu"});
}

TEST(CudaOps, ConcatOfIntegerTensors) {
  REQUIRE_GPU();
  Tensor ints = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor joined = concat_channels({ints.to(kGpu), ints.to(kGpu)});
  EXPECT_EQ(joined.to_double_vector(), concat_channels({ints, ints}).to_double_vector());
}

TEST(CudaOps, SoftmaxCrossEntropyReportsABadLabelAtTheNextSync) {
  REQUIRE_GPU();
  Generator gen(6);
  const Tensor logits = Tensor::uniform({2, 6, 7, 21}, -5.0, 5.0, gen);
  std::vector<int32_t> ids(2 * 6 * 7);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = (i % 5 == 0) ? 255 : static_cast<int32_t>((i * 7) % 21);
  // An invalid label is reported with its value and position, as on the CPU, at the next synchronisation with the
  // host (the loss itself does not wait for the device): reading the loss, or any later copy to the host.
  ids[17] = 30;
  Tensor bad = Tensor::from_vector<int32_t>(ids, {2, 6, 7}).to(kGpu);
  expect_error([&] { softmax_cross_entropy(logits.to(kGpu), bad).item<float>(); }, {"label 30", "n=0", "h=2", "w=3"});
  softmax_cross_entropy(logits.to(kGpu), bad);
  expect_error([&] { Tensor::ones({2}, DType::f32, kGpu).to_double_vector(); }, {"softmax_cross_entropy", "label 30"});
  EXPECT_NO_THROW(Tensor::ones({2}, DType::f32, kGpu).to_double_vector()) << "a reported check is cleared";
}

TEST(CudaOps, DropoutMaskMatchesCpuBitForBit) {
  REQUIRE_GPU();
  Generator data(7);
  Tensor x = random({3, 17, 19, 8}, data);
  for (double p : {0.1, 0.5, 1.0}) {
    Generator g_cpu(42), g_gpu(42);
    Tensor xc = x.clone().set_requires_grad(true), xg = x.to(kGpu).set_requires_grad(true);
    Tensor yc = dropout(xc, p, true, g_cpu), yg = dropout(xg, p, true, g_gpu);
    EXPECT_TRUE(same_bits(yg.to(Device::cpu()), yc)) << "p = " << p;
    EXPECT_EQ(g_cpu.offset(), g_gpu.offset());
    Tensor r = random(x.shape(), data);
    sum(mul(yc, r)).backward();
    sum(mul(yg, r.to(kGpu))).backward();
    EXPECT_TRUE(same_bits(xg.grad().to(Device::cpu()), xc.grad())) << "p = " << p;
  }
}

TEST(CudaOps, Conv2dBnReluMatchesTheFusedCpuOp) {
  REQUIRE_GPU();
  Generator gen(31);
  NoGradGuard no_grad;
  const Tensor x = random({2, 9, 8, 5}, gen), w = random({6, 3, 3, 5}, gen), b = random({6}, gen);
  RunningBatchNorm bn{random({6}, gen), random({6}, gen), random({6}, gen),
                      Tensor::uniform({6}, 0.2, 2.0, gen), 1e-3};
  const RunningBatchNorm bn_gpu{bn.weight.to(kGpu), bn.bias.to(kGpu), bn.running_mean.to(kGpu),
                                bn.running_var.to(kGpu), bn.eps};
  const Conv2dParams p = Conv2dParams().with_padding(2).with_dilation(2);
  for (bool relu_after : {true, false}) {
    expect_matches(conv2d_bn_relu(x.to(kGpu), w.to(kGpu), b.to(kGpu), p, &bn_gpu, relu_after),
                   conv2d_bn_relu(x, w, b, p, &bn, relu_after), 1e-4, relu_after ? "with ReLU" : "without ReLU");
  }
}

TEST(CudaOps, BackwardPassesAreDeterministic) {
  REQUIRE_GPU();
  Generator gen(12);
  Tensor x = random({2, 40, 36, 8}, gen).to(kGpu).set_requires_grad(true);
  Tensor w = random({6, 3, 3, 8}, gen).to(kGpu).set_requires_grad(true);
  Tensor r = random({2, 80, 72, 6}, gen).to(kGpu);
  auto run = [&] {
    x.zero_grad();
    w.zero_grad();
    Tensor y = conv2d(x, w, Tensor(), Conv2dParams{}.with_padding(2).with_dilation(2));
    y = batch_norm(y, Tensor(), Tensor(), Tensor(), Tensor());
    y = resize_bilinear(y, ResizeParams::to_size(80, 72, false));
    sum(mul(y, r)).backward();
    return std::make_pair(x.grad().to(Device::cpu()), w.grad().to(Device::cpu()));
  };
  const auto first = run(), second = run();
  EXPECT_TRUE(same_bits(first.first, second.first));
  EXPECT_TRUE(same_bits(first.second, second.second));
}

TEST(CudaOps, TinyDeepLabTrainStepsMatchCpu) {
  REQUIRE_GPU();
  Generator init_cpu(13), init_gpu(13), data(14);
  TinyDeepLabConfig config;
  config.num_classes = 5;
  config.width = 8;
  TinyDeepLab cpu_model(config, init_cpu), gpu_model(config, init_gpu);
  gpu_model.to(kGpu);
  cpu_model.train();
  gpu_model.train();
  Tensor images = random({2, 24, 20, 3}, data);
  Tensor logits_cpu = cpu_model.forward(images);  // labels at the logits' resolution
  const int64_t h = logits_cpu.size(1), w = logits_cpu.size(2);
  std::vector<int32_t> ids(2 * h * w);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = i % 7 == 3 ? 255 : static_cast<int32_t>(i % 5);
  Tensor labels = Tensor::from_vector<int32_t>(ids, {2, h, w});
  Tensor loss_cpu = softmax_cross_entropy(logits_cpu, labels);
  Tensor loss_gpu = softmax_cross_entropy(gpu_model.forward(images.to(kGpu)), labels.to(kGpu));
  expect_matches(loss_gpu, loss_cpu, 1e-5, "TinyDeepLab loss");
  loss_cpu.backward();
  loss_gpu.backward();
  const auto pc = cpu_model.named_parameters(), pg = gpu_model.named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  for (size_t i = 0; i < pc.size(); ++i) {
    ASSERT_TRUE(pg[i].tensor.grad().defined()) << pg[i].name;
    expect_matches(pg[i].tensor.grad(), pc[i].tensor.grad(), 5e-4, "TinyDeepLab grad " + pc[i].name);
  }
  // Two SGD steps (momentum and weight decay) on both devices, then the second step's loss.
  SgdOptions options;
  options.lr = 0.05;
  options.weight_decay = 1e-3;
  Sgd sgd_cpu(cpu_model.param_groups(), options), sgd_gpu(gpu_model.param_groups(), options);
  sgd_cpu.step();
  sgd_gpu.step();
  sgd_cpu.zero_grad();
  sgd_gpu.zero_grad();
  loss_cpu = softmax_cross_entropy(cpu_model.forward(images), labels);
  loss_gpu = softmax_cross_entropy(gpu_model.forward(images.to(kGpu)), labels.to(kGpu));
  expect_matches(loss_gpu, loss_cpu, 1e-4, "TinyDeepLab loss after one SGD step");
  loss_cpu.backward();
  loss_gpu.backward();
  sgd_cpu.step();
  sgd_gpu.step();
  for (size_t i = 0; i < pc.size(); ++i) {
    expect_matches(pg[i].tensor, pc[i].tensor, 1e-4, "TinyDeepLab parameter after two steps " + pc[i].name);
  }
}

TEST(CudaAllocator, ReusesFreedBlocksAndReportsStats) {
  REQUIRE_GPU();
  cuda::synchronize(0);
  const AllocatorStats before = cuda::allocator_stats(0);
  { Tensor a = Tensor::empty({1 << 20}, DType::f32, kGpu); }
  const AllocatorStats mid = cuda::allocator_stats(0);
  { Tensor b = Tensor::empty({1 << 20}, DType::f32, kGpu); }
  const AllocatorStats after = cuda::allocator_stats(0);
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
  EXPECT_GE(after.peak_in_use_bytes, before.in_use_bytes + (size_t(4) << 20));
  EXPECT_GE(mid.cached_bytes, size_t(4) << 20);
  EXPECT_EQ(after.cache_hits, mid.cache_hits + 1) << "the second 4 MiB tensor must reuse the first one's block";
  cuda::release_cached_memory(0);
  EXPECT_EQ(cuda::allocator_stats(0).cached_bytes, 0u);
}

TEST(CudaAllocator, OutOfMemoryNamesTheSize) {
  REQUIRE_GPU();
  expect_error([] { Tensor::empty({int64_t(1) << 48}, DType::f32, kGpu); },
                        {"out of memory", "cuda:0", "1125899906842624"});
  // The device still works afterwards.
  EXPECT_EQ(Tensor::ones({3}, DType::f32, kGpu).to_double_vector(), std::vector<double>(3, 1.0));
}

TEST(CudaRuntimeCopies, LargeAndOddSizedRoundTripsAreExact) {
  REQUIRE_GPU();
  Generator gen(15);
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(3) * 1024 * 1024 + 7}) {  // the last spans staging chunks
    Tensor host = random({n}, gen);
    Tensor dev = host.to(kGpu);
    Tensor copy = dev.clone();  // device to device
    EXPECT_TRUE(same_bits(copy.to(Device::cpu()), host)) << n << " elements";
  }
}

TEST(CudaOps, ViewsCopiesAndDtypeConversions) {
  REQUIRE_GPU();
  Generator gen(21);
  Tensor x = random({2, 5, 7, 3}, gen);
  // A sliding window's crop of a crop, cloned on the device (the op cases check views' gradients).
  Tensor window_cpu = x.slice(1, 1, 5).slice(2, 2, 6), window_gpu = x.to(kGpu).slice(1, 1, 5).slice(2, 2, 6);
  expect_matches(window_gpu.clone(), window_cpu.clone(), 0.0, "clone of a view");
  // copy_ into a CUDA view from CPU and CUDA sources, contiguous or not.
  Tensor into_cpu = Tensor::zeros({2, 5, 7, 3}), into_gpu = Tensor::zeros({2, 5, 7, 3}, DType::f32, kGpu);
  Tensor patch = random({2, 3, 7, 3}, gen);
  into_cpu.slice(1, 2, 5).copy_(patch);
  into_gpu.slice(1, 2, 5).copy_(patch);
  into_cpu.slice(3, 0, 1).copy_(x.slice(3, 2, 3));
  into_gpu.slice(3, 0, 1).copy_(x.to(kGpu).slice(3, 2, 3));
  expect_matches(into_gpu, into_cpu, 0.0, "copy_ into views");
  // Every dtype conversion, as the CPU converts (truncation toward zero, wrap of u8).
  Tensor values = Tensor::from_vector<float>({-3.7f, -0.5f, 0.0f, 0.49f, 1.5f, 200.9f, 255.0f, 1e6f}, {8});
  for (DType from : {DType::f32, DType::f64, DType::i32, DType::u8}) {
    const Tensor source = from == DType::u8 ? values.slice(0, 2, 7).to(DType::u8) : values.to(from);
    for (DType to : {DType::f32, DType::f64, DType::i32, DType::u8}) {
      if (from != DType::u8 && to == DType::u8) continue;  // out-of-range float to u8 is undefined in C++
      EXPECT_EQ(source.to(kGpu).to(to).to_double_vector(), source.to(to).to_double_vector())
          << dtype_name(from) << " -> " << dtype_name(to);
      EXPECT_TRUE(source.to(kGpu).to(to).device().is_cuda());
    }
  }
}
