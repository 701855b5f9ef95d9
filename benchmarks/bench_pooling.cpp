// Pooling CPU kernels on DeepLab shapes (f32): max 3x3/2/1 ceil (pool1 of VGG-16 at 321) and avg 3x3/1/1 (the
// DeepLab-v2 pool5 on 1024 channels), forward and backward. GB/s counts each tensor read or written once: max forward
// x + y + argmax, max backward dy + argmax + dx, avg forward x + y, avg backward dy + dx.
#include <benchmark/benchmark.h>

#include <string>

#include "core/autograd.h"
#include "core/ops/pooling.h"
#include "core/random.h"
#include "kernels/pooling.h"

using namespace atrous;

namespace {

struct Case {
  const char* name;
  int64_t n, h, w, c;
  Pool2dParams params;
};

const Case kMaxCases[] = {
    {"64x321x321_k3s2p1_ceil", 1, 321, 321, 64,
     Pool2dParams{}.with_kernel(3).with_stride(2).with_padding(1).with_ceil_mode(true)},
};
const Case kAvgCases[] = {
    {"1024x41x41_k3s1p1", 1, 41, 41, 1024, Pool2dParams{}.with_kernel(3).with_stride(1).with_padding(1)},
};

kernels::Pool2dShape shape_of(const Case& k) {
  kernels::Pool2dShape s;
  s.batch = k.n;
  s.in_h = k.h;
  s.in_w = k.w;
  s.channels = k.c;
  s.out_h = pool2d_output_size(k.h, k.params);
  s.out_w = pool2d_output_size(k.w, k.params);
  s.kernel = k.params.kernel;
  s.stride = k.params.stride;
  s.padding = k.params.padding;
  return s;
}

void set_rate(benchmark::State& state, double bytes_per_iteration) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iteration * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

struct Buffers {
  explicit Buffers(const Case& k) : s(shape_of(k)) {
    Generator gen(1);
    x = Tensor::uniform({s.batch, s.in_h, s.in_w, s.channels}, -1.0, 1.0, gen);
    y = Tensor::empty({s.batch, s.out_h, s.out_w, s.channels});
    dy = Tensor::uniform(y.shape(), -1.0, 1.0, gen);
    dx = Tensor::empty(x.shape());
    argmax = Tensor::empty(y.shape(), DType::i32);
  }
  kernels::Pool2dShape s;
  Tensor x, y, dy, dx, argmax;
  double in_bytes() const { return static_cast<double>(x.numel()) * 4; }
  double out_bytes() const { return static_cast<double>(y.numel()) * 4; }
};

void bm_max_forward(benchmark::State& state, const Case& k) {
  Buffers b(k);
  for (auto _ : state) {
    kernels::max_pool2d_forward_cpu<float>(b.x.data<float>(), b.s, b.y.data<float>(), b.argmax.data<int32_t>());
    benchmark::DoNotOptimize(b.y.data<float>());
  }
  set_rate(state, b.in_bytes() + 2 * b.out_bytes());
}

void bm_max_backward(benchmark::State& state, const Case& k) {
  Buffers b(k);
  kernels::max_pool2d_forward_cpu<float>(b.x.data<float>(), b.s, b.y.data<float>(), b.argmax.data<int32_t>());
  for (auto _ : state) {
    kernels::max_pool2d_backward_cpu<float>(b.dy.data<float>(), b.argmax.data<int32_t>(), b.s, b.dx.data<float>());
    benchmark::DoNotOptimize(b.dx.data<float>());
  }
  set_rate(state, b.in_bytes() + 2 * b.out_bytes());
}

void bm_avg_forward(benchmark::State& state, const Case& k) {
  Buffers b(k);
  for (auto _ : state) {
    kernels::avg_pool2d_forward_cpu<float>(b.x.data<float>(), b.s, k.params.count_include_pad, b.y.data<float>());
    benchmark::DoNotOptimize(b.y.data<float>());
  }
  set_rate(state, b.in_bytes() + b.out_bytes());
}

void bm_avg_backward(benchmark::State& state, const Case& k) {
  Buffers b(k);
  for (auto _ : state) {
    kernels::avg_pool2d_backward_cpu<float>(b.dy.data<float>(), b.s, k.params.count_include_pad, b.dx.data<float>());
    benchmark::DoNotOptimize(b.dx.data<float>());
  }
  set_rate(state, b.in_bytes() + b.out_bytes());
}

// The functional op with its output allocation (grad mode off: no argmax kept alive beyond the call).
void bm_max_forward_op(benchmark::State& state, const Case& k) {
  Buffers b(k);
  NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = max_pool2d(b.x, k.params);
    benchmark::DoNotOptimize(y.data<float>());
  }
  set_rate(state, b.in_bytes() + 2 * b.out_bytes());
}

template <typename Fn>
void add(const std::string& name, Fn fn, const Case& k) {
  // Real time: the kernels run on every OpenMP thread, the main thread's CPU time would undercount.
  benchmark::RegisterBenchmark((name + "/" + k.name).c_str(), fn, k)->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  for (const Case& k : kMaxCases) {
    add("BM_max_pool2d_forward", bm_max_forward, k);
    add("BM_max_pool2d_forward_op", bm_max_forward_op, k);
    add("BM_max_pool2d_backward", bm_max_backward, k);
  }
  for (const Case& k : kAvgCases) {
    add("BM_avg_pool2d_forward", bm_avg_forward, k);
    add("BM_avg_pool2d_backward", bm_avg_backward, k);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
