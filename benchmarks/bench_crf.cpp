// Dense CRF on the CPU (and the GPU where one is visible), 10 mean-field iterations: VOC size (500x375, 21 labels) and
// Cityscapes size (2048x1024, 19 labels), DeepLab-CRF-LargeFOV's parameters, on 1 and 2 threads. Cases: lattice build
// (both kernels and their normalisation, i.e. make_dense_crf), inference (mean field on built lattices) and the total.
// The peer is Kraehenbuehl's densecrf, run side by side by benchmarks/peers/compare_densecrf.py (0.6-0.7 s single-threaded for the
// VOC case on our 2-core machine, REFERENCE.md).
//
// Inputs: benchmarks/crf_inputs.h (synthetic, with a photo's lattice density). Counters: lattice vertices per pixel
// for each kernel, the CRF's memory (lattices, normalisation and the mean field's buffers, computed) and the
// process's max RSS (meaningful when one case runs per process: --benchmark_filter=<case>$).
#include <benchmark/benchmark.h>
#include <omp.h>
#include <sys/resource.h>

#include "benchmarks/crf_inputs.h"
#include "core/tensor.h"
#include "crf/cuda_dense_crf.h"
#include "crf/dense_crf.h"

using namespace atrous;
using namespace atrous::crf;

namespace {

const CrfInputs& inputs(int which) {
  if (which == 0) {
    static const CrfInputs voc = synthetic_crf_inputs(375, 500, 21);
    return voc;
  }
  static const CrfInputs cityscapes = synthetic_crf_inputs(1024, 2048, 19);
  return cityscapes;
}

// The mean field's buffers (crf/lattice_mean_field.cpp): the padded unary that becomes Q, the output, and per kernel
// a pair of lattice value buffers plus one splat copy per extra thread.
size_t mean_field_bytes(const CrfInputs& in, const std::vector<std::shared_ptr<const PairwiseKernel>>& kernels) {
  const int64_t n = in.image.size(0) * in.image.size(1), labels = in.unary.size(2), stride = (labels + 7) / 8 * 8;
  int64_t floats = n * stride + n * labels;
  for (const auto& kernel : kernels)
    floats += (2 + omp_get_max_threads() - 1) * (kernel->lattice().num_points() + 1) * stride;
  return static_cast<size_t>(floats) * sizeof(float);
}

void set_counters(benchmark::State& state, const DenseCrf& crf, const CrfInputs& in,
                  const std::vector<std::shared_ptr<const PairwiseKernel>>& kernels) {
  const double n = static_cast<double>(in.image.size(0) * in.image.size(1));
  size_t bytes = mean_field_bytes(in, kernels);
  for (size_t k = 0; k < kernels.size(); ++k) {
    bytes += kernels[k]->memory_bytes();
    state.counters[kernels[k]->dims() == 2 ? "vertices_per_px_xy" : "vertices_per_px_bilateral"] =
        kernels[k]->lattice().num_points() / n;
  }
  state.counters["crf_MB"] = bytes / double(1 << 20);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["max_rss_MB"] = usage.ru_maxrss / 1024.0;
  (void)crf;
}

DenseCrfParams params() { return crf_preset("deeplab-v1-largefov").params; }

// Builds the CRF keeping the kernels visible for the counters.
DenseCrf build(const CrfInputs& in, std::vector<std::shared_ptr<const PairwiseKernel>>& kernels) {
  const DenseCrfParams p = params();
  DenseCrf crf(in.image.size(0), in.image.size(1), static_cast<int>(in.unary.size(2)));
  kernels = {make_gaussian_kernel(in.image.size(0), in.image.size(1), p.gaussian_xy, p.normalization),
             make_bilateral_kernel(in.image, p.bilateral_xy, p.bilateral_rgb, p.normalization)};
  crf.add_pairwise(kernels[0], p.gaussian_weight);
  crf.add_pairwise(kernels[1], p.bilateral_weight);
  return crf;
}

// state.range(0): 0 = VOC, 1 = Cityscapes; range(1): threads.
void BM_CrfLatticeBuild(benchmark::State& state) {
  const CrfInputs& in = inputs(static_cast<int>(state.range(0)));
  omp_set_num_threads(static_cast<int>(state.range(1)));
  std::vector<std::shared_ptr<const PairwiseKernel>> kernels;
  for (auto _ : state) {
    DenseCrf crf = build(in, kernels);
    benchmark::DoNotOptimize(crf);
  }
  set_counters(state, build(in, kernels), in, kernels);
}

void BM_CrfInference(benchmark::State& state) {
  const CrfInputs& in = inputs(static_cast<int>(state.range(0)));
  omp_set_num_threads(static_cast<int>(state.range(1)));
  std::vector<std::shared_ptr<const PairwiseKernel>> kernels;
  const DenseCrf crf = build(in, kernels);
  for (auto _ : state) {
    Tensor q = crf.mean_field(in.unary, params().iterations);
    benchmark::DoNotOptimize(q.raw_data());
  }
  set_counters(state, crf, in, kernels);
}

void BM_CrfTotal(benchmark::State& state) {
  const CrfInputs& in = inputs(static_cast<int>(state.range(0)));
  omp_set_num_threads(static_cast<int>(state.range(1)));
  std::vector<std::shared_ptr<const PairwiseKernel>> kernels;
  for (auto _ : state) {
    DenseCrf crf = build(in, kernels);
    Tensor q = crf.mean_field(in.unary, params().iterations);
    benchmark::DoNotOptimize(q.raw_data());
  }
  set_counters(state, build(in, kernels), in, kernels);
}

// One kernel's build alone (range(1): 0 = the spatial Gaussian kernel, 1 = the bilateral kernel): its lattice and its
// normalisation, on one thread. Where the lattice build's time goes.
void BM_CrfKernelBuild(benchmark::State& state) {
  const CrfInputs& in = inputs(static_cast<int>(state.range(0)));
  omp_set_num_threads(1);
  const DenseCrfParams p = params();
  for (auto _ : state) {
    std::shared_ptr<const PairwiseKernel> kernel =
        state.range(1) == 0
            ? make_gaussian_kernel(in.image.size(0), in.image.size(1), p.gaussian_xy, p.normalization)
            : make_bilateral_kernel(in.image, p.bilateral_xy, p.bilateral_rgb, p.normalization);
    benchmark::DoNotOptimize(kernel.get());
  }
}

void voc_and_cityscapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"cityscapes", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
  for (int which : {0, 1})
    for (int threads : {1, 2}) b->Args({which, threads});
}

// The GPU: the time is the mean field's (CUDA events around the iterations, no host round trips inside);
// build_ms counts the lattices, neighbours, gather lists and normalisation. Goal (DESIGN.md): <= 5 ms for VOC.
void BM_CrfCuda(benchmark::State& state) {
  if (!crf::cuda::available()) {
    state.SkipWithError("no CUDA device visible (or CPU-only build)");
    return;
  }
  const CrfInputs& in = inputs(static_cast<int>(state.range(0)));
  crf::cuda::CudaCrfStats stats;
  crf::cuda::dense_crf_cuda(in.image, in.unary, params(), 0, &stats);  // warm-up: context, module load
  double build_ms = 0;
  for (auto _ : state) {
    Tensor q = crf::cuda::dense_crf_cuda(in.image, in.unary, params(), 0, &stats);
    benchmark::DoNotOptimize(q.raw_data());
    state.SetIterationTime(stats.inference_ms / 1e3);
    build_ms += stats.build_ms;
  }
  state.counters["build_ms"] = build_ms / static_cast<double>(state.iterations());
  state.counters["device_MB"] = stats.device_bytes / double(1 << 20);
}

}  // namespace

// A fixed count: each iteration also pays the host-side preparation outside the timed span (~0.1 s at Cityscapes
// size), so a minimum *timed* span of milliseconds per iteration would take minutes of wall time.
BENCHMARK(BM_CrfCuda)
    ->ArgName("cityscapes")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrfLatticeBuild)->Apply(voc_and_cityscapes);
BENCHMARK(BM_CrfKernelBuild)
    ->ArgNames({"cityscapes", "bilateral"})
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CrfInference)->Apply(voc_and_cityscapes);
BENCHMARK(BM_CrfTotal)->Apply(voc_and_cityscapes);

BENCHMARK_MAIN();
