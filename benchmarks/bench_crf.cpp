// Dense CRF on the CPU (and the GPU where one is visible), 10 mean-field iterations: VOC size (500x375, 21 labels) and
// Cityscapes size (2048x1024, 19 labels), DeepLab-CRF-LargeFOV's parameters, on 1 and 2 threads. Cases: lattice build
// (both kernels and their normalisation, i.e. make_dense_crf), inference (mean field on built lattices) and the total.
// The peer is Kraehenbuehl's densecrf, run side by side by tools/compare_densecrf.py (0.6-0.7 s single-threaded for the
// VOC case on our 2-core machine, REFERENCE.md).
//
// Inputs are synthetic but image-like (smooth shading, 24 coloured ellipses, sensor noise of sd 5; logits that favour
// the true region, with noise), giving lattice sizes like real photos' (bilateral: 0.26 vertices per pixel here, 0.24
// on a CamVid photo). Counters: lattice vertices per pixel for each
// kernel, the CRF's memory (lattices, normalisation and the mean-field buffers, computed) and the process's max
// RSS (meaningful when one case runs per process: --benchmark_filter=<case>$).
#include <benchmark/benchmark.h>
#include <omp.h>
#include <sys/resource.h>

#include <cmath>
#include <random>

#include "core/tensor.h"
#include "crf/cuda_dense_crf.h"
#include "crf/dense_crf.h"

using namespace atrous;
using namespace atrous::crf;

namespace {

struct CrfInputs {
  Tensor image;  // u8 [H,W,3]
  Tensor unary;  // f32 [H,W,L]
};

CrfInputs make_inputs(int height, int width, int labels) {
  std::mt19937 gen(42);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  struct Ellipse {
    float cx, cy, rx, ry, rgb[3];
    int label;
  };
  std::vector<Ellipse> shapes;
  for (int s = 0; s < 24; ++s)
    shapes.push_back({u(gen) * width,
                      u(gen) * height,
                      (0.05f + 0.2f * u(gen)) * width,
                      (0.05f + 0.2f * u(gen)) * height,
                      {255 * u(gen), 255 * u(gen), 255 * u(gen)},
                      1 + static_cast<int>(u(gen) * (labels - 1))});
  CrfInputs in{Tensor::empty({height, width, 3}, DType::u8), Tensor::empty({height, width, labels})};
  uint8_t* rgb = in.image.data<uint8_t>();
  std::vector<float> logits(static_cast<size_t>(labels));
  float* unary = in.unary.data<float>();
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      float c[3] = {80.0f + 60.0f * x / width, 100.0f + 50.0f * y / height, 120.0f};
      int label = 0;
      for (const Ellipse& e : shapes) {
        const float dx = (x - e.cx) / e.rx, dy = (y - e.cy) / e.ry;
        if (dx * dx + dy * dy < 1.0f) {
          label = e.label;
          for (int k = 0; k < 3; ++k) c[k] = e.rgb[k] * (0.8f + 0.2f * dx);
        }
      }
      const int64_t i = int64_t(y) * width + x;
      for (int k = 0; k < 3; ++k)
        rgb[i * 3 + k] = static_cast<uint8_t>(std::clamp(c[k] + 5.0f * noise(gen), 0.0f, 255.0f));
      // A network's logits: blurry near boundaries, wrong at some pixels.
      float top = -1e30f;
      for (int l = 0; l < labels; ++l) {
        logits[l] = (l == label ? 2.5f : 0.0f) + 1.2f * noise(gen);
        top = std::max(top, logits[l]);
      }
      double sum = 0.0;
      for (int l = 0; l < labels; ++l) sum += std::exp(logits[l] - top);
      for (int l = 0; l < labels; ++l) unary[i * labels + l] = static_cast<float>(top + std::log(sum) - logits[l]);
    }
  }
  return in;
}

const CrfInputs& inputs(int which) {
  if (which == 0) {
    static const CrfInputs voc = make_inputs(375, 500, 21);
    return voc;
  }
  static const CrfInputs cityscapes = make_inputs(1024, 2048, 19);
  return cityscapes;
}

size_t mean_field_bytes(const CrfInputs& in) {
  const int64_t n = in.image.size(0) * in.image.size(1), stride = (in.unary.size(2) + 7) / 8 * 8;
  return static_cast<size_t>(n * stride * 4 * sizeof(float));  // unary, Q and one filtered buffer per kernel
}

void set_counters(benchmark::State& state, const DenseCrf& crf, const CrfInputs& in,
                  const std::vector<std::shared_ptr<const PairwiseKernel>>& kernels) {
  const double n = static_cast<double>(in.image.size(0) * in.image.size(1));
  size_t bytes = mean_field_bytes(in);
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

BENCHMARK(BM_CrfCuda)->ArgName("cityscapes")->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrfLatticeBuild)->Apply(voc_and_cityscapes);
BENCHMARK(BM_CrfInference)->Apply(voc_and_cityscapes);
BENCHMARK(BM_CrfTotal)->Apply(voc_and_cityscapes);

BENCHMARK_MAIN();
