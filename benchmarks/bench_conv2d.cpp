// conv2d CPU kernels (im2col + Eigen GEMM) on the DeepLab layer suite, f32, batch 1, NHWC: forward, backward-data,
// backward-weight in GFLOP/s, next to the GEMM peak of the same wrapper so "% of GEMM peak" comes from one run.
#include <benchmark/benchmark.h>

#include <string>

#include "core/random.h"
#include "core/tensor.h"
#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "op_cases/conv_shapes.h"

namespace {

using namespace atrous;
using conv_shapes::ConvCase;

enum class Pass { forward, backward_data, backward_weight };

void bm_conv(benchmark::State& state, ConvCase c, Pass pass) {
  const kernels::Conv2dShape s = c.kernel_shape();
  Generator gen(7);
  Tensor x = Tensor::uniform({s.n, s.h, s.w, s.cin}, -1, 1, gen);
  Tensor w = Tensor::uniform({s.cout, s.kh, s.kw, s.cin}, -0.05, 0.05, gen);
  Tensor b = Tensor::uniform({s.cout}, -1, 1, gen);
  Tensor y = Tensor::uniform({s.n, s.oh, s.ow, s.cout}, -1, 1, gen);  // output, or output gradient
  const int64_t ws_elems = pass == Pass::forward         ? kernels::conv2d_forward_workspace_cpu<float>(s)
                           : pass == Pass::backward_data ? kernels::conv2d_backward_data_workspace_cpu<float>(s)
                                                         : kernels::conv2d_backward_weight_workspace_cpu<float>(s);
  Tensor ws = Tensor::zeros({std::max<int64_t>(ws_elems, 1)});
  for (auto _ : state) {
    switch (pass) {
      case Pass::forward:
        kernels::conv2d_forward_cpu<float>(s, x.data<float>(), w.data<float>(), b.data<float>(), y.data<float>(),
                                           ws.data<float>(), ws_elems);
        break;
      case Pass::backward_data:
        kernels::conv2d_backward_data_cpu<float>(s, y.data<float>(), w.data<float>(), x.data<float>(),
                                                 ws.data<float>(), ws_elems);
        break;
      case Pass::backward_weight:
        kernels::conv2d_backward_weight_cpu<float>(s, y.data<float>(), x.data<float>(), w.data<float>(),
                                                   ws.data<float>(), ws_elems);
        break;
    }
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(c.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["workspace_MB"] = double(ws_elems) * 4e-6;
}

// C[n,n] = A[n,n] * B[n,n] through gemm_parallel (or gemm on one thread): the peak our conv kernels can approach,
// on the default GEMM backend or a named one (BM_gemm_single_thread/<backend>: ours against Eigen's in one run).
void bm_gemm(benchmark::State& state, bool parallel, kernels::GemmBackend backend) {
  const kernels::GemmBackend saved = kernels::gemm_backend();
  kernels::set_gemm_backend(backend);
  const int64_t n = state.range(0);
  Generator gen(3);
  Tensor a = Tensor::uniform({n, n}, -1, 1, gen), b = Tensor::uniform({n, n}, -1, 1, gen), c = Tensor::zeros({n, n});
  for (auto _ : state) {
    auto fn = parallel ? kernels::gemm_parallel<float> : kernels::gemm<float>;
    fn(kernels::Transpose::no, kernels::Transpose::no, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f,
       c.data<float>(), n);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * n * n * n, benchmark::Counter::kIsIterationInvariantRate);
  kernels::set_gemm_backend(saved);
}

void register_all() {
  benchmark::RegisterBenchmark("BM_gemm_peak", bm_gemm, true, kernels::gemm_backend())
      ->Arg(2048)
      ->Arg(4096)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  for (const auto backend : {kernels::GemmBackend::eigen, kernels::GemmBackend::avx2, kernels::GemmBackend::avx512}) {
    if (!kernels::gemm_backend_supported(backend)) continue;
    const std::string name = std::string("BM_gemm_single_thread/") + kernels::gemm_backend_name(backend);
    benchmark::RegisterBenchmark(name.c_str(), bm_gemm, false, backend)
        ->Arg(512)
        ->Arg(2048)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  const std::pair<const char*, Pass> passes[] = {
      {"BM_conv_forward/", Pass::forward},
      {"BM_conv_backward_data/", Pass::backward_data},
      {"BM_conv_backward_weight/", Pass::backward_weight}};
  for (const auto& [prefix, pass] : passes) {
    for (const ConvCase& c : conv_shapes::deeplab_suite()) {
      benchmark::RegisterBenchmark((std::string(prefix) + c.name).c_str(), bm_conv, c, pass)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
