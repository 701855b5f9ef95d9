// The CUDA simulator's own speed (simulator builds only): how long simulated work takes on this CPU, which is what
// bounds the simulated test suite -- a whole DeepLabv3-ResNet-50 forward at 129x129 (eval, batch 1), and one
// implicit-GEMM convolution layer as simulated GFLOP/s. These are CPU timings of the simulator, not GPU figures.
#include <benchmark/benchmark.h>

#include "core/atrous.h"
#include "core/cuda_runtime.h"
#include "models/registry.h"

using namespace atrous;

namespace {

void bm_sim_deeplabv3_resnet50_forward(benchmark::State& state) {
  const int64_t size = state.range(0);
  ModelOptions options;
  options.num_classes = 21;
  auto model = create_model("deeplabv3_resnet50", options);
  model->eval();
  model->to(Device::cuda(0));
  Generator gen(1);
  const Tensor image = Tensor::uniform({1, size, size, 3}, -2, 2, gen).to(Device::cuda(0));
  for (auto _ : state) {
    NoGradGuard no_grad;
    benchmark::DoNotOptimize(model->forward(image).to(Device::cpu()).data<float>());
  }
}

// A 3x3 convolution, 64 -> 64 channels, dilation 2, on a 65x65 map: 2 * 65^2 * 64 * 64 * 9 flops.
void bm_sim_conv3x3(benchmark::State& state) {
  Generator gen(2);
  const Tensor x = Tensor::uniform({1, 65, 65, 64}, -1, 1, gen).to(Device::cuda(0));
  const Tensor w = Tensor::uniform({64, 3, 3, 64}, -1, 1, gen).to(Device::cuda(0));
  Conv2dParams params;
  params.padding = 2;
  params.dilation = 2;
  for (auto _ : state) benchmark::DoNotOptimize(conv2d(x, w, Tensor(), params).to(Device::cpu()).data<float>());
  state.counters["simulated_GFLOP/s"] =
      benchmark::Counter(2.0 * 65 * 65 * 64 * 64 * 9 * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(bm_sim_deeplabv3_resnet50_forward)->Arg(129)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
BENCHMARK(bm_sim_conv3x3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
