// CUDA kernels against cuDNN on the DeepLab layer suite (tests/op_cases/conv_shapes.h), f32, batch 1, timed with CUDA
// events around each call (manual time; warm-up first): conv2d forward / backward-data / backward-weight, ours and
// cuDNN's best algorithm (cudnnFind*AlgorithmEx) in NCHW and in NHWC, in full fp32 (cuDNN restricted to FMA math)
// and in tf32 (ours with cuda::set_tf32_convolutions, cuDNN with tensor-op math).
// Batch norm train forward/backward, ours and cuDNN (NCHW and NHWC). Resize, pooling and softmax cross-entropy as
// bandwidth (counter "bytes": compulsory traffic, each input read once and each output written once) next to a
// device-to-device copy of the same size. benchmarks/peers/compare_cudnn.py turns the JSON output into
// benchmarks/results/<device>.json and a markdown table. Without a GPU every case is skipped with a message; without
// cuDNN only our side runs.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/atrous.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda_runtime.h"
#include "kernels/batch_norm.h"
#include "kernels/conv2d.h"
#include "kernels/cross_entropy.h"
#include "kernels/pooling.h"
#include "kernels/resize.h"
#include "op_cases/conv_shapes.h"

#if ATROUS_HAS_CUDNN
#include <cudnn.h>
#define CUDNN_CHECK(call)                                                                                          \
  do {                                                                                                             \
    cudnnStatus_t status_ = (call);                                                                                \
    if (status_ != CUDNN_STATUS_SUCCESS)                                                                           \
      ATROUS_FAIL("cuDNN error: ", #call, " failed with ", cudnnGetErrorString(status_), " at ", __FILE__, ":",   \
                  __LINE__);                                                                                       \
  } while (0)
#endif

namespace {

using namespace atrous;
using conv_shapes::ConvCase;

const Device kGpu = Device::cuda(0);

bool have_gpu(benchmark::State& state) {
  if (cuda_available()) return true;
  state.SkipWithError("no CUDA device visible");
  return false;
}

Tensor random_gpu(const Shape& shape, uint64_t seed, double range = 1.0) {
  Generator gen(seed);
  return Tensor::uniform(shape, -range, range, gen).to(kGpu);
}

// Times `call` with events on the device's stream; one SetIterationTime per benchmark iteration.
template <typename F> void time_on_stream(benchmark::State& state, F&& call) {
  cudaStream_t st = cuda::stream(0);
  for (int i = 0; i < 3; ++i) call();  // warm-up: module load, allocator, cuBLAS handles
  ATROUS_CUDA_CHECK(cudaStreamSynchronize(st));
  cudaEvent_t start, stop;
  ATROUS_CUDA_CHECK(cudaEventCreate(&start));
  ATROUS_CUDA_CHECK(cudaEventCreate(&stop));
  for (auto _ : state) {
    ATROUS_CUDA_CHECK(cudaEventRecord(start, st));
    call();
    ATROUS_CUDA_CHECK(cudaEventRecord(stop, st));
    ATROUS_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    ATROUS_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms / 1e3);
  }
  ATROUS_CUDA_CHECK(cudaEventDestroy(start));
  ATROUS_CUDA_CHECK(cudaEventDestroy(stop));
}

enum class Pass { forward, backward_data, backward_weight };
const char* pass_name(Pass p) {
  return p == Pass::forward ? "fwd" : p == Pass::backward_data ? "bwd_data" : "bwd_weight";
}

struct ConvBuffers {
  Tensor x, w, b, y;  // y is the output, or the output gradient
  explicit ConvBuffers(const kernels::Conv2dShape& s)
      : x(random_gpu({s.n, s.h, s.w, s.cin}, 1)),
        w(random_gpu({s.cout, s.kh, s.kw, s.cin}, 2, 0.05)),
        b(random_gpu({s.cout}, 3)),
        y(random_gpu({s.n, s.oh, s.ow, s.cout}, 4)) {}
};

std::string shape_label(const ConvCase& c) {
  char text[160];
  std::snprintf(text, sizeof(text), "n%ld h%ld w%ld cin%ld cout%ld k%ld s%d p%d d%d", long(c.n), long(c.h), long(c.w),
                long(c.cin), long(c.cout), long(c.kernel), c.stride, c.padding, c.dilation);
  return text;
}

// Also labels the run with the shape, which benchmarks/peers/compare_cudnn.py copies into the results.
void set_conv_counters(benchmark::State& state, const ConvCase& c, const std::string& extra = "") {
  state.SetLabel(shape_label(c) + extra);
  state.counters["flops"] = c.flops();
  state.counters["TFLOPS"] = benchmark::Counter(c.flops() / 1e12, benchmark::Counter::kIsIterationInvariantRate);
}

// Selects tf32 convolutions for one benchmark and restores full fp32 afterwards.
struct Tf32Scope {
  explicit Tf32Scope(bool on) { cuda::set_tf32_convolutions(on); }
  ~Tf32Scope() { cuda::set_tf32_convolutions(false); }
};

void bm_conv_ours(benchmark::State& state, ConvCase c, Pass pass, bool tf32) {
  if (!have_gpu(state)) return;
  const kernels::Conv2dShape s = c.kernel_shape();
  ConvBuffers t(s);
  Tf32Scope math(tf32);
  time_on_stream(state, [&] {
    switch (pass) {
      case Pass::forward:
        kernels::cuda::conv2d_forward<float>(0, s, t.x.data<float>(), t.w.data<float>(), t.b.data<float>(),
                                             t.y.data<float>());
        break;
      case Pass::backward_data:
        kernels::cuda::conv2d_backward_data<float>(0, s, t.y.data<float>(), t.w.data<float>(), t.x.data<float>());
        break;
      case Pass::backward_weight:
        kernels::cuda::conv2d_backward_weight<float>(0, s, t.y.data<float>(), t.x.data<float>(), t.w.data<float>());
        break;
    }
  });
  set_conv_counters(state, c);
}

#if ATROUS_HAS_CUDNN
cudnnHandle_t cudnn() {
  static cudnnHandle_t handle = [] {
    cudnnHandle_t h;
    CUDNN_CHECK(cudnnCreate(&h));
    CUDNN_CHECK(cudnnSetStream(h, cuda::stream(0)));
    return h;
  }();
  return handle;
}

// The descriptors of one convolution in one layout; our NHWC / [Cout,KH,KW,Cin] buffers serve both layouts, since
// timing does not depend on what the values mean.
struct CudnnConv {
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  CudnnConv(const kernels::Conv2dShape& s, cudnnTensorFormat_t format, bool tf32) {
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, format, CUDNN_DATA_FLOAT, int(s.n), int(s.cin), int(s.h), int(s.w)));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, format, CUDNN_DATA_FLOAT, int(s.n), int(s.cout), int(s.oh), int(s.ow)));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, format, int(s.cout), int(s.cin), int(s.kh), int(s.kw)));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, int(s.pad_h), int(s.pad_w), int(s.stride), int(s.stride),
                                                int(s.dilation), int(s.dilation), CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    // FMA math: full fp32, as ours by default; tensor-op math lets cuDNN use tf32, as ours with tf32 selected.
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  }
  ~CudnnConv() {
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyConvolutionDescriptor(conv);
  }
};

bool tensor_op(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

constexpr size_t kFindWorkspace = size_t(2) << 30;

void bm_conv_cudnn(benchmark::State& state, ConvCase c, Pass pass, cudnnTensorFormat_t format, bool tf32) {
  if (!have_gpu(state)) return;
  const kernels::Conv2dShape s = c.kernel_shape();
  ConvBuffers t(s);
  CudnnConv d(s, format, tf32);
  // fp32 runs must not pick a tensor-core algorithm; tf32 runs take cuDNN's fastest of any kind.
  auto usable = [tf32](cudnnMathType_t m) { return tf32 || !tensor_op(m); };
  Tensor workspace = Tensor::empty({int64_t(kFindWorkspace / 4)}, DType::f32, kGpu);
  void* ws = workspace.raw_data();
  const float one = 1.0f, zero = 0.0f;
  constexpr int kMaxAlgos = 16;
  int returned = 0;
  std::string algo_name;
  std::function<void()> call;
  if (pass == Pass::forward) {
    cudnnConvolutionFwdAlgoPerf_t perf[kMaxAlgos];
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(cudnn(), d.x, t.x.raw_data(), d.w, t.w.raw_data(), d.conv, d.y,
                                                       t.y.raw_data(), kMaxAlgos, &returned, perf, ws,
                                                       kFindWorkspace));
    int best = -1;
    for (int i = 0; i < returned && best < 0; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS && usable(perf[i].mathType)) best = i;
    if (best < 0) return state.SkipWithError("cuDNN found no fp32 forward algorithm");
    const auto algo = perf[best].algo;
    const size_t bytes = perf[best].memory;
    algo_name = "fwd_algo_" + std::to_string(int(algo));
    call = [&, algo, bytes] {
      CUDNN_CHECK(cudnnConvolutionForward(cudnn(), &one, d.x, t.x.raw_data(), d.w, t.w.raw_data(), d.conv, algo, ws,
                                          bytes, &zero, d.y, t.y.raw_data()));
    };
  } else if (pass == Pass::backward_data) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[kMaxAlgos];
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(cudnn(), d.w, t.w.raw_data(), d.y, t.y.raw_data(), d.conv,
                                                            d.x, t.x.raw_data(), kMaxAlgos, &returned, perf, ws,
                                                            kFindWorkspace));
    int best = -1;
    for (int i = 0; i < returned && best < 0; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS && usable(perf[i].mathType)) best = i;
    if (best < 0) return state.SkipWithError("cuDNN found no fp32 backward-data algorithm");
    const auto algo = perf[best].algo;
    const size_t bytes = perf[best].memory;
    algo_name = "bwd_data_algo_" + std::to_string(int(algo));
    call = [&, algo, bytes] {
      CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn(), &one, d.w, t.w.raw_data(), d.y, t.y.raw_data(), d.conv, algo,
                                               ws, bytes, &zero, d.x, t.x.raw_data()));
    };
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[kMaxAlgos];
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnn(), d.x, t.x.raw_data(), d.y, t.y.raw_data(),
                                                              d.conv, d.w, t.w.raw_data(), kMaxAlgos, &returned, perf,
                                                              ws, kFindWorkspace));
    int best = -1;
    for (int i = 0; i < returned && best < 0; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS && usable(perf[i].mathType)) best = i;
    if (best < 0) return state.SkipWithError("cuDNN found no fp32 backward-weight algorithm");
    const auto algo = perf[best].algo;
    const size_t bytes = perf[best].memory;
    algo_name = "bwd_filter_algo_" + std::to_string(int(algo));
    call = [&, algo, bytes] {
      CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn(), &one, d.x, t.x.raw_data(), d.y, t.y.raw_data(), d.conv,
                                                 algo, ws, bytes, &zero, d.w, t.w.raw_data()));
    };
  }
  time_on_stream(state, call);
  set_conv_counters(state, c, " " + algo_name);
}
#endif

void set_bytes(benchmark::State& state, double bytes) {
  state.counters["bytes"] = bytes;
  state.counters["GBps"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- batch norm: [N,H,W,C] train forward (statistics + normalise) and backward ----

struct BnCase {
  const char* name;
  int64_t n, h, w, c;
  int64_t elems() const { return n * h * w * c; }
};

const std::vector<BnCase>& bn_suite() {
  static const std::vector<BnCase> cases{{"bn_16x129x129x256", 16, 129, 129, 256},
                                         {"bn_16x65x65x1024", 16, 65, 65, 1024},
                                         {"bn_1x65x65x2048", 1, 65, 65, 2048}};
  return cases;
}

// Compulsory bytes: forward reads x, writes y; backward reads x and dy, writes dx.
double bn_bytes(const BnCase& c, bool backward) { return 4.0 * c.elems() * (backward ? 3 : 2); }

void bm_bn_ours(benchmark::State& state, BnCase c, bool backward) {
  if (!have_gpu(state)) return;
  const kernels::BatchNormShape s{c.n * c.h * c.w, c.c};
  Tensor x = random_gpu({c.elems()}, 1), y = random_gpu({c.elems()}, 2), dy = random_gpu({c.elems()}, 3);
  Tensor w = random_gpu({c.c}, 4), b = random_gpu({c.c}, 5), mean = random_gpu({c.c}, 6);
  Tensor invstd = random_gpu({c.c}, 7), rm = random_gpu({c.c}, 8), rv = random_gpu({c.c}, 9);
  Tensor dw = random_gpu({c.c}, 10), db = random_gpu({c.c}, 11);
  time_on_stream(state, [&] {
    if (backward) {
      kernels::cuda::batch_norm_backward<float>(0, dy.data<float>(), x.data<float>(), w.data<float>(),
                                                mean.data<float>(), invstd.data<float>(), s, true, y.data<float>(),
                                                dw.data<float>(), db.data<float>());
    } else {
      kernels::cuda::batch_norm_train_forward<float>(0, x.data<float>(), w.data<float>(), b.data<float>(), s, 1e-5,
                                                     0.1, y.data<float>(), mean.data<float>(), invstd.data<float>(),
                                                     rm.data<float>(), rv.data<float>());
    }
  });
  set_bytes(state, bn_bytes(c, backward));
}

#if ATROUS_HAS_CUDNN
// Both layouts, as for the convolutions: cuDNN's legacy batch-norm API is far slower in NHWC (even in its
// "persistent" mode) than in NCHW on the H200 we measured, and the yardstick is cuDNN's best.
void bm_bn_cudnn(benchmark::State& state, BnCase c, bool backward, cudnnTensorFormat_t format) {
  if (!have_gpu(state)) return;
  Tensor x = random_gpu({c.elems()}, 1), y = random_gpu({c.elems()}, 2), dy = random_gpu({c.elems()}, 3);
  Tensor w = random_gpu({c.c}, 4), b = random_gpu({c.c}, 5), mean = random_gpu({c.c}, 6);
  Generator gen(7);
  Tensor invstd = Tensor::uniform({c.c}, 0.5, 2.0, gen).to(kGpu);
  Tensor rm = random_gpu({c.c}, 8), rv = Tensor::ones({c.c}, DType::f32, kGpu);
  Tensor dw = random_gpu({c.c}, 10), db = random_gpu({c.c}, 11);
  cudnnTensorDescriptor_t xd, pd;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&xd));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&pd));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(xd, format, CUDNN_DATA_FLOAT, int(c.n), int(c.c), int(c.h), int(c.w)));
  // PERSISTENT is cuDNN's NHWC fast path; for NCHW its plain spatial mode.
  const cudnnBatchNormMode_t mode =
      format == CUDNN_TENSOR_NHWC ? CUDNN_BATCHNORM_SPATIAL_PERSISTENT : CUDNN_BATCHNORM_SPATIAL;
  CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(pd, xd, mode));
  const float one = 1.0f, zero = 0.0f;
  time_on_stream(state, [&] {
    if (backward) {
      CUDNN_CHECK(cudnnBatchNormalizationBackward(cudnn(), mode, &one, &zero, &one, &zero, xd, x.raw_data(), xd,
                                                  dy.raw_data(), xd, y.raw_data(), pd, w.raw_data(), dw.raw_data(),
                                                  db.raw_data(), 1e-5, mean.raw_data(), invstd.raw_data()));
    } else {
      CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(cudnn(), mode, &one, &zero, xd, x.raw_data(), xd,
                                                         y.raw_data(), pd, w.raw_data(), b.raw_data(), 0.1,
                                                         rm.raw_data(), rv.raw_data(), 1e-5, mean.raw_data(),
                                                         invstd.raw_data()));
    }
  });
  cudnnDestroyTensorDescriptor(xd);
  cudnnDestroyTensorDescriptor(pd);
  set_bytes(state, bn_bytes(c, backward));
}
#endif

// ---- bandwidth-bound ops next to a device-to-device copy ----

// Reads and writes `bytes / 2` each: the same traffic as an op that moves `bytes`.
void bm_copy(benchmark::State& state) {
  if (!have_gpu(state)) return;
  const int64_t elems = state.range(0) / 8;
  Tensor a = random_gpu({elems}, 1), b = random_gpu({elems}, 2);
  time_on_stream(state, [&] {
    ATROUS_CUDA_CHECK(
        cudaMemcpyAsync(b.raw_data(), a.raw_data(), elems * 4, cudaMemcpyDeviceToDevice, cuda::stream(0)));
  });
  set_bytes(state, 8.0 * elems);
}

// DeepLab's x8 upsampling of 21-class logits to the 513 crop, batch 16, and its backward.
void bm_resize(benchmark::State& state, bool backward, bool align_corners) {
  if (!have_gpu(state)) return;
  const kernels::ResizeShape s{16, 65, 65, 513, 513, 21, align_corners};
  Tensor small = random_gpu({s.batch * s.in_h * s.in_w * s.channels}, 1);
  Tensor large = random_gpu({s.batch * s.out_h * s.out_w * s.channels}, 2);
  time_on_stream(state, [&] {
    if (backward) {
      kernels::cuda::resize_bilinear_backward<float>(0, large.data<float>(), small.data<float>(), s);
    } else {
      kernels::cuda::resize_bilinear_forward<float>(0, small.data<float>(), large.data<float>(), s);
    }
  });
  set_bytes(state, 4.0 * (small.numel() + large.numel()));
}

// The ResNet stem's 3x3 stride-2 max pool (513 crop, batch 16) and a 3x3 stride-1 average pool.
void bm_pool(benchmark::State& state, bool max_pool, bool backward) {
  if (!have_gpu(state)) return;
  kernels::Pool2dShape s;
  s.batch = 16;
  s.in_h = s.in_w = 257;
  s.channels = 64;
  s.kernel = 3;
  s.stride = max_pool ? 2 : 1;
  s.padding = 1;
  s.out_h = s.out_w = max_pool ? 129 : 257;
  Tensor x = random_gpu({s.batch * s.in_h * s.in_w * s.channels}, 1);
  Tensor y = random_gpu({s.batch * s.out_h * s.out_w * s.channels}, 2);
  Tensor argmax = Tensor::zeros({y.numel()}, DType::i32, kGpu);
  if (max_pool) {
    kernels::cuda::max_pool2d_forward<float>(0, x.data<float>(), s, y.data<float>(), argmax.data<int32_t>());
  }
  time_on_stream(state, [&] {
    if (max_pool && backward) {
      kernels::cuda::max_pool2d_backward<float>(0, y.data<float>(), argmax.data<int32_t>(), s, x.data<float>());
    } else if (max_pool) {
      kernels::cuda::max_pool2d_forward<float>(0, x.data<float>(), s, y.data<float>(), argmax.data<int32_t>());
    } else if (backward) {
      kernels::cuda::avg_pool2d_backward<float>(0, y.data<float>(), s, true, x.data<float>());
    } else {
      kernels::cuda::avg_pool2d_forward<float>(0, x.data<float>(), s, true, y.data<float>());
    }
  });
  set_bytes(state, 4.0 * (x.numel() + y.numel() + (max_pool ? y.numel() : 0)));
}

// Softmax cross-entropy on 21-class logits at the 513 crop, batch 16 (the loss stays on the device).
void bm_xent(benchmark::State& state, bool backward) {
  if (!have_gpu(state)) return;
  const kernels::CrossEntropyShape s{16 * 513 * 513, 21, 255};
  Tensor logits = random_gpu({s.pixels * s.classes}, 1, 5.0), dlogits = random_gpu({s.pixels * s.classes}, 2);
  Generator gen(3);
  Tensor labels = Tensor::uniform({s.pixels}, 0.0, 21.0, gen).to(DType::i32).to(kGpu);
  Tensor stats = random_gpu({2 * s.pixels}, 4), loss = random_gpu({1}, 5), grad = Tensor::ones({1}, DType::f32, kGpu);
  Tensor sums = Tensor::zeros({3}, DType::f64, kGpu);
  kernels::cuda::softmax_cross_entropy_forward<float, int32_t>(0, logits.data<float>(), labels.data<int32_t>(), nullptr,
                                                               stats.data<float>(), s, loss.data<float>(),
                                                               sums.data<double>());
  time_on_stream(state, [&] {
    if (backward) {
      kernels::cuda::softmax_cross_entropy_backward<float, int32_t>(0, logits.data<float>(), labels.data<int32_t>(),
                                                                    nullptr, stats.data<float>(), grad.data<float>(),
                                                                    sums.data<double>(), dlogits.data<float>(), s);
    } else {
      kernels::cuda::softmax_cross_entropy_forward<float, int32_t>(0, logits.data<float>(), labels.data<int32_t>(),
                                                                   nullptr, stats.data<float>(), s, loss.data<float>(),
                                                                   sums.data<double>());
    }
  });
  set_bytes(state, 4.0 * (s.pixels * s.classes * (backward ? 2 : 1) + s.pixels * 3));
}

void add_context() {
  if (!cuda_available()) return;
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return;
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  benchmark::AddCustomContext("device", prop.name);
  benchmark::AddCustomContext("sm_count", std::to_string(prop.multiProcessorCount));
  benchmark::AddCustomContext("cuda_driver", std::to_string(driver));
  benchmark::AddCustomContext("cuda_runtime", std::to_string(runtime));
#if ATROUS_HAS_CUDNN
  benchmark::AddCustomContext("cudnn", std::to_string(cudnnGetVersion()));
#else
  benchmark::AddCustomContext("cudnn", "not built");
#endif
}

void register_all() {
  auto tune = [](benchmark::internal::Benchmark* b) {
    b->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.2);
  };
  for (bool tf32 : {false, true}) {
    for (const ConvCase& c : conv_shapes::deeplab_suite()) {
      for (Pass pass : {Pass::forward, Pass::backward_data, Pass::backward_weight}) {
        const std::string base = std::string(tf32 ? "conv_tf32/" : "conv/") + c.name + "/" + pass_name(pass) + "/";
        tune(benchmark::RegisterBenchmark((base + "ours").c_str(), bm_conv_ours, c, pass, tf32));
#if ATROUS_HAS_CUDNN
        tune(benchmark::RegisterBenchmark((base + "cudnn_nchw").c_str(), bm_conv_cudnn, c, pass, CUDNN_TENSOR_NCHW,
                                          tf32));
        tune(benchmark::RegisterBenchmark((base + "cudnn_nhwc").c_str(), bm_conv_cudnn, c, pass, CUDNN_TENSOR_NHWC,
                                          tf32));
#endif
      }
    }
  }
  for (const BnCase& c : bn_suite()) {
    for (bool backward : {false, true}) {
      const std::string base = std::string("bn/") + c.name + "/" + (backward ? "bwd" : "fwd") + "/";
      tune(benchmark::RegisterBenchmark((base + "ours").c_str(), bm_bn_ours, c, backward));
#if ATROUS_HAS_CUDNN
      tune(benchmark::RegisterBenchmark((base + "cudnn_nchw").c_str(), bm_bn_cudnn, c, backward, CUDNN_TENSOR_NCHW));
      tune(benchmark::RegisterBenchmark((base + "cudnn_nhwc").c_str(), bm_bn_cudnn, c, backward, CUDNN_TENSOR_NHWC));
#endif
    }
  }
  tune(benchmark::RegisterBenchmark("bw/copy", bm_copy)->Arg(int64_t(1) << 30));
  for (bool backward : {false, true}) {
    const char* dir = backward ? "bwd" : "fwd";
    tune(benchmark::RegisterBenchmark((std::string("bw/resize_x8_513/") + dir).c_str(), bm_resize, backward, false));
    tune(benchmark::RegisterBenchmark((std::string("bw/resize_x8_513_align/") + dir).c_str(), bm_resize, backward,
                                      true));
    tune(benchmark::RegisterBenchmark((std::string("bw/maxpool_3x3s2_257/") + dir).c_str(), bm_pool, true,
                                      backward));
    tune(benchmark::RegisterBenchmark((std::string("bw/avgpool_3x3s1_257/") + dir).c_str(), bm_pool, false,
                                      backward));
    tune(benchmark::RegisterBenchmark((std::string("bw/xent_21x513/") + dir).c_str(), bm_xent, backward));
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  add_context();
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
