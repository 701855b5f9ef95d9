// Bilinear resize (DeepLab's logit upsampling, 21 classes, f32, batch 1) forward and backward, and the fused softmax
// cross-entropy forward + backward on 21 x 513 x 513 logits. GB/s counts logical traffic per iteration: resize
// forward reads x and writes y, backward reads dy and writes dx; cross-entropy reads logits and labels twice and
// writes dlogits (per-thread scratch rows and per-pixel statistics are not counted).
#include <benchmark/benchmark.h>

#include <string>

#include "core/autograd.h"
#include "core/ops/resize.h"
#include "core/random.h"
#include "kernels/cross_entropy.h"
#include "kernels/resize.h"

using namespace atrous;

namespace {

struct ResizeCase {
  const char* name;
  int64_t c, in, out;
};

// Output stride 8 logits upsampled to the crop: 513 crops (DeepLabv3, VOC) and 321 crops (DeepLab v1/v2).
const ResizeCase kResizeCases[] = {{"21x65x65_to_513", 21, 65, 513}, {"21x41x41_to_321", 21, 41, 321}};

void set_rate(benchmark::State& state, double bytes_per_iteration) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iteration * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

kernels::ResizeShape resize_shape(const ResizeCase& k, bool align_corners) {
  return {1, k.in, k.in, k.out, k.out, k.c, align_corners};
}

double resize_bytes(const ResizeCase& k) {
  return static_cast<double>(k.c) * (k.in * k.in + k.out * k.out) * sizeof(float);
}

void bm_resize_forward(benchmark::State& state, const ResizeCase& k, bool align_corners) {
  Generator gen(1);
  Tensor x = Tensor::uniform({1, k.in, k.in, k.c}, -1, 1, gen);
  Tensor y = Tensor::empty({1, k.out, k.out, k.c});
  const kernels::ResizeShape shape = resize_shape(k, align_corners);
  Tensor workspace = Tensor::empty({kernels::resize_bilinear_forward_workspace_size(shape)});
  for (auto _ : state) {
    kernels::resize_bilinear_forward_cpu(x.data<float>(), y.data<float>(), workspace.data<float>(), shape);
    benchmark::DoNotOptimize(y.data<float>());
  }
  set_rate(state, resize_bytes(k));
}

void bm_resize_backward(benchmark::State& state, const ResizeCase& k, bool align_corners) {
  Generator gen(2);
  Tensor dy = Tensor::uniform({1, k.out, k.out, k.c}, -1, 1, gen);
  Tensor dx = Tensor::empty({1, k.in, k.in, k.c});
  const kernels::ResizeShape shape = resize_shape(k, align_corners);
  Tensor workspace = Tensor::empty({kernels::resize_bilinear_backward_workspace_size(shape)});
  for (auto _ : state) {
    kernels::resize_bilinear_backward_cpu(dy.data<float>(), dx.data<float>(), workspace.data<float>(), shape);
    benchmark::DoNotOptimize(dx.data<float>());
  }
  set_rate(state, resize_bytes(k));
}

// The functional op with autograd, as a model calls it: checks, output and workspace allocation, graph recording.
void bm_resize_forward_backward_op(benchmark::State& state, const ResizeCase& k, bool align_corners) {
  Generator gen(3);
  Tensor x = Tensor::uniform({1, k.in, k.in, k.c}, -1, 1, gen).set_requires_grad(true);
  Tensor dy = Tensor::uniform({1, k.out, k.out, k.c}, -1, 1, gen);
  const ResizeParams params = ResizeParams::to_size(k.out, k.out, align_corners);
  for (auto _ : state) {
    Tensor y = resize_bilinear(x, params);
    y.backward(dy);
    benchmark::DoNotOptimize(x.grad().data<float>());
    x.zero_grad();
  }
  set_rate(state, 2 * resize_bytes(k));
}

void bm_cross_entropy_forward_backward(benchmark::State& state, int64_t c, int64_t side) {
  Generator gen(4);
  const int64_t pixels = side * side;
  Tensor logits = Tensor::uniform({pixels, c}, -5, 5, gen);
  Tensor labels = Tensor::empty({pixels}, DType::u8);
  uint8_t* l = labels.data<uint8_t>();
  for (int64_t i = 0; i < pixels; ++i) l[i] = i % 13 == 0 ? 255 : static_cast<uint8_t>(i % c);  // ~8% void
  Tensor stats = Tensor::empty({pixels, 2});
  Tensor dlogits = Tensor::empty({pixels, c});
  const kernels::CrossEntropyShape shape{pixels, c, 255};
  for (auto _ : state) {
    const kernels::CrossEntropySums sums = kernels::softmax_cross_entropy_forward_cpu<float, uint8_t>(
        logits.data<float>(), labels.data<uint8_t>(), nullptr, stats.data<float>(), shape);
    kernels::softmax_cross_entropy_backward_cpu<float, uint8_t>(logits.data<float>(), labels.data<uint8_t>(),
                                                               nullptr, stats.data<float>(),
                                                               static_cast<float>(1.0 / sums.weight),
                                                               dlogits.data<float>(), shape);
    benchmark::DoNotOptimize(dlogits.data<float>());
  }
  set_rate(state, 3.0 * pixels * c * sizeof(float) + 2.0 * pixels);
}

}  // namespace

int main(int argc, char** argv) {
  // Real time: the kernels run on every OpenMP thread, the main thread's CPU time would undercount.
  for (const ResizeCase& k : kResizeCases) {
    for (bool ac : {true, false}) {
      const std::string suffix = std::string("/") + k.name + (ac ? "/ac1" : "/ac0");
      benchmark::RegisterBenchmark(("BM_resize_forward" + suffix).c_str(), bm_resize_forward, k, ac)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("BM_resize_backward" + suffix).c_str(), bm_resize_backward, k, ac)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RegisterBenchmark("BM_resize_forward_backward_op/21x65x65_to_513/ac1", bm_resize_forward_backward_op,
                               kResizeCases[0], true)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_softmax_cross_entropy_forward_backward/21x513x513",
                               bm_cross_entropy_forward_backward, int64_t{21}, int64_t{513})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
