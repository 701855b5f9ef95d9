// Every timed op case of the op case table (tests/op_cases/, the DeepLab-sized geometries each op file registers
// beside its tested ones), through the autograd ops as a model calls them: forward alone (no graph recorded) and
// forward + backward of sum(output * R), f32, on the CPU and, when a GPU is visible, on CUDA (synchronised each
// iteration, so the wall time is the device time). Names: ops/<op>/<case>/<device>/<pass>.
#include <benchmark/benchmark.h>

#include <string>

#include "core/atrous.h"
#include "core/cuda_runtime.h"
#include "op_cases/op_case.h"

using namespace atrous;
using namespace atrous::op_cases;

namespace {

void finish(Device device) {
  if (device.is_cuda()) cuda::synchronize(device.index);
}

void bm_forward(benchmark::State& state, const OpCase* c, Device device) {
  Generator gen(7);
  const Inputs inputs = prepare_inputs(*c, c->inputs(gen), DType::f32, device, /*with_grad=*/false);
  const CudaModeScope mode(*c, device);
  NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = c->run(inputs);
    finish(device);
    benchmark::DoNotOptimize(y);
  }
}

void bm_forward_backward(benchmark::State& state, const OpCase* c, Device device) {
  Generator gen(7);
  const Inputs base = prepare_inputs(*c, c->inputs(gen), DType::f32, device, /*with_grad=*/false);
  const CudaModeScope mode(*c, device);
  Tensor projection;
  {
    NoGradGuard no_grad;
    projection = uniform(c->run(base).shape(), gen).to(device);
  }
  for (auto _ : state) {
    // Fresh leaves over the same storage each iteration: no gradient accumulates from one to the next.
    Inputs leaves;
    for (size_t i = 0; i < base.size(); ++i) {
      const bool grad = base[i].defined() && is_floating(base[i].dtype()) && c->takes_gradient(i);
      leaves.push_back(grad ? base[i].detach().set_requires_grad(true) : base[i]);
    }
    c->run(leaves).backward(projection);
    finish(device);
  }
}

void register_case(const OpCase& c, Device device) {
  const std::string name = "ops/" + c.full_name() + "/" + (device.is_cuda() ? "cuda" : "cpu");
  benchmark::RegisterBenchmark((name + "/forward").c_str(), bm_forward, &c, device)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  if (!c.differentiable) return;
  benchmark::RegisterBenchmark((name + "/forward_backward").c_str(), bm_forward_backward, &c, device)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  for (const OpCase& c : all_op_benchmarks()) {
    register_case(c, Device::cpu());
    if (cuda_available()) register_case(c, Device::cuda(0));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
