// Batch-norm CPU kernels in Train mode on DeepLab shapes (f32): forward (statistics + normalise) and backward
// (reductions + dx, dweight, dbias). GB/s counts logical traffic: forward reads x and writes y; backward reads dy
// and x and writes dx (the kernels make one more pass over x, resp. dy and x, which is not counted).
#include <benchmark/benchmark.h>

#include <string>

#include "core/autograd.h"
#include "core/ops/batch_norm.h"
#include "core/random.h"
#include "kernels/batch_norm.h"

using namespace atrous;

namespace {

struct Case {
  const char* name;
  int64_t n, h, w, c;
};

// ResNet/ASPP feature maps at output stride 8 for 513 inputs (65x65) and batch 10 at 321 inputs (41x41).
const Case kCases[] = {{"256x65x65", 1, 65, 65, 256}, {"10x512x41x41", 10, 41, 41, 512}};

struct Buffers {
  explicit Buffers(const Case& k) {
    Generator gen(1);
    x = Tensor::uniform({k.n, k.h, k.w, k.c}, -1.0, 3.0, gen);
    dy = Tensor::uniform(x.shape(), -1.0, 1.0, gen);
    y = Tensor::empty(x.shape());
    weight = Tensor::uniform({k.c}, 0.5, 1.5, gen);
    bias = Tensor::uniform({k.c}, -0.5, 0.5, gen);
    mean = Tensor::empty({k.c});
    invstd = Tensor::empty({k.c});
    running_mean = Tensor::zeros({k.c});
    running_var = Tensor::ones({k.c});
    dweight = Tensor::empty({k.c});
    dbias = Tensor::empty({k.c});
    shape = {k.n * k.h * k.w, k.c};
  }
  Tensor x, dy, y, weight, bias, mean, invstd, running_mean, running_var, dweight, dbias;
  kernels::BatchNormShape shape;
  double bytes() const { return static_cast<double>(x.numel()) * sizeof(float); }
};

void set_rate(benchmark::State& state, double bytes_per_iteration) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iteration * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

void bm_train_forward(benchmark::State& state, const Case& k) {
  Buffers b(k);
  for (auto _ : state) {
    kernels::batch_norm_train_forward_cpu<float>(
        b.x.data<float>(), b.weight.data<float>(), b.bias.data<float>(), b.shape, 1e-5, 0.1, b.y.data<float>(),
        b.mean.data<float>(), b.invstd.data<float>(), b.running_mean.data<float>(), b.running_var.data<float>());
    benchmark::DoNotOptimize(b.y.data<float>());
  }
  set_rate(state, 2 * b.bytes());
}

// The functional op as a layer calls it: argument checks and output allocation included.
void bm_train_forward_op(benchmark::State& state, const Case& k) {
  Buffers b(k);
  NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = batch_norm(b.x, b.weight, b.bias, b.running_mean, b.running_var);
    benchmark::DoNotOptimize(y.data<float>());
  }
  set_rate(state, 2 * b.bytes());
}

void bm_train_backward(benchmark::State& state, const Case& k) {
  Buffers b(k);
  kernels::batch_norm_train_forward_cpu<float>(b.x.data<float>(), b.weight.data<float>(), b.bias.data<float>(), b.shape,
                                               1e-5, 0.1, b.y.data<float>(), b.mean.data<float>(),
                                               b.invstd.data<float>(), nullptr, nullptr);
  Tensor dx = Tensor::empty(b.x.shape());
  for (auto _ : state) {
    kernels::batch_norm_backward_cpu<float>(b.dy.data<float>(), b.x.data<float>(), b.weight.data<float>(),
                                            b.mean.data<float>(), b.invstd.data<float>(), b.shape, true,
                                            dx.data<float>(), b.dweight.data<float>(), b.dbias.data<float>());
    benchmark::DoNotOptimize(dx.data<float>());
  }
  set_rate(state, 3 * b.bytes());
}

template <typename Fn>
void add(const std::string& name, Fn fn, const Case& k) {
  // Real time: the kernels run on every OpenMP thread, the main thread's CPU time would undercount.
  benchmark::RegisterBenchmark((name + "/" + k.name).c_str(), fn, k)->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  for (const Case& k : kCases) {
    add("BM_batch_norm_train_forward", bm_train_forward, k);
    add("BM_batch_norm_train_forward_op", bm_train_forward_op, k);
    add("BM_batch_norm_train_backward", bm_train_backward, k);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
