// Whole-model CPU benchmarks, f32, batch 1 (and batch 8 for two models): eval forward (image -> logits resized to
// the image) and one training step (train-mode forward, logits resized to the label size, softmax cross-entropy
// with ignore label, backward, SGD with momentum and weight decay). The peer is benchmarks/peers/bench_models_pytorch.py,
// compared by benchmarks/peers/compare_model_benchmarks.py.
//
// Each case times single steps (Iterations(1)) after one untimed warm-up step that fills the caching allocator;
// run with --benchmark_repetitions=N for a median of N steps. Memory counters are per process: the host
// allocator's peak in-use bytes and the max RSS are meaningful when one case runs per process
// (--benchmark_filter=<case>$).
//
// `bench_models --serve CASE` is the step server that benchmarks/peers/compare_model_benchmarks.py interleaves with PyTorch's
// (see serve() below): steps of the two sides alternate, so that a shared machine's bursts of load hit both alike.
#include <benchmark/benchmark.h>
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/ops/cross_entropy.h"
#include "core/ops/resize.h"
#include "core/random.h"
#include "layers/aspp.h"
#include "layers/batch_norm2d.h"
#include "models/registry.h"
#include "solvers/sgd.h"

using namespace atrous;

namespace {

constexpr int kThreads = 2;
constexpr int kClasses = 21;
constexpr int kIgnoreLabel = 255;

struct ModelCase {
  const char* model;  // registry name
  int64_t size;       // square input (crop) side
  double lr;          // SGD base lr (the models' param groups scale it, e.g. classifiers x10)
  int64_t batch = 1;  // images per step
};

// DeepLab's crop sizes: 321 for v1/v2 (Caffe), 513 for DeepLabv3 (VOC). lr 1e-3, except v2 ResNet: on random
// labels its frozen-BN backbone and x10/x20 ASPP classifier diverge within a few steps at 1e-3 and 1e-4 (NaN losses
// change what the kernels compute), so it runs at 2.5e-5. The step's work does not depend on lr. The mobile models
// and FCN at VOC's 513 as torchvision trains them.
const ModelCase kModelCases[] = {
    {"deeplab-v1-largefov", 321, 1e-3},
    {"deeplabv3_resnet101", 513, 1e-3},
    {"deeplabv2-resnet101", 321, 2.5e-5},
    {"deeplabv3plus-mobilenetv2", 513, 1e-3},
    {"deeplabv3_mobilenet_v3_large", 513, 1e-3},
    {"lraspp_mobilenet_v3_large", 513, 1e-3},
    {"fcn_resnet50", 513, 1e-3},
    // Training runs on batches (DeepLab: 10 to 30 crops): batch 8 where a step stays within seconds on 2 cores.
    {"deeplab-v1-largefov", 321, 1e-3, 8},
    {"deeplabv2-resnet101", 321, 2.5e-5, 8},
};

// The benchmark name of a case, e.g. BM_model_eval/deeplab-v1-largefov/321, or .../321/batch:8 beyond batch 1.
std::string case_name(const ModelCase& c, bool train) {
  return std::string(train ? "BM_model_train_step/" : "BM_model_eval/") + c.model + "/" + std::to_string(c.size) +
         (c.batch > 1 ? "/batch:" + std::to_string(c.batch) : "");
}

// Random labels with ~1/13 of the pixels ignored (as bench_pytorch.py's cross-entropy case).
Tensor make_labels(int64_t batch, int64_t size, Generator& gen) {
  Tensor u = Tensor::uniform({batch, size, size}, 0, kClasses, gen);
  std::vector<uint8_t> labels(static_cast<size_t>(batch * size * size));
  const float* p = u.data<float>();
  for (size_t i = 0; i < labels.size(); ++i)
    labels[i] = i % 13 == 0 ? kIgnoreLabel : static_cast<uint8_t>(static_cast<int>(p[i]) % kClasses);
  return Tensor::from_vector(labels, {batch, size, size});
}

// Batch statistics of a single value per channel are undefined, so at batch 1 the image-pooling branch's BN
// ([1,1,1,256]) runs on its running statistics in training, on both sides (bench_models_pytorch.py does the same).
void image_pooling_bn_eval(Module& m) {
  if (auto* pooling = dynamic_cast<AsppPooling*>(&m)) pooling->bn().eval();
  for (const auto& child : m.children()) image_pooling_bn_eval(*child.second);
}

void collect_batch_norms(Module& m, std::vector<BatchNorm2d*>& out) {
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) out.push_back(bn);
  for (const auto& child : m.children()) collect_batch_norms(*child.second, out);
}

// At initialisation every BN's running statistics are (0, 1), so eval-mode and frozen BN normalise nothing and a
// ResNet's activations grow ~1e5-fold over 100 layers (v2's training then diverges to NaN within two steps). One
// train-mode forward with momentum 1 sets the running statistics to the image's own, as a trained model's would
// be; bench_models_pytorch.py calibrates the same way.
void calibrate_batch_norms(SegmentationModel& model, const Tensor& image) {
  std::vector<BatchNorm2d*> bns;
  collect_batch_norms(model, bns);
  if (bns.empty()) return;
  std::vector<std::pair<bool, double>> saved;
  for (BatchNorm2d* bn : bns) {
    saved.emplace_back(bn->frozen(), bn->options().momentum);
    bn->set_frozen(false);
    bn->set_momentum(1.0);
  }
  model.train(true);
  image_pooling_bn_eval(model);
  {
    NoGradGuard no_grad;
    model.forward(image);
  }
  for (size_t i = 0; i < bns.size(); ++i) {
    bns[i]->set_frozen(saved[i].first);
    bns[i]->set_momentum(saved[i].second);
  }
}

// One model with its inputs and optimiser, kept across the repetitions of a case (building ResNet-101 and the
// warm-up step cost seconds). Only the running case is held, so running every case in one process does not
// accumulate models.
struct Workload {
  std::string key;
  std::shared_ptr<SegmentationModel> model;
  std::unique_ptr<Sgd> sgd;
  Tensor image, labels;
  ResizeParams to_image;
};

Workload& workload(const ModelCase& c, bool train) {
  static std::unique_ptr<Workload> held;
  const std::string key = case_name(c, train);
  if (held && held->key == key) return *held;
  held.reset();  // release the previous model before building the next
  auto w = std::make_unique<Workload>();
  w->key = key;
  ModelOptions options;
  options.num_classes = kClasses;
  w->model = create_model(c.model, options);
  Generator gen(7);
  w->image = Tensor::uniform({c.batch, c.size, c.size, 3}, -2, 2, gen);
  calibrate_batch_norms(*w->model, w->image);
  w->model->train(train);
  if (train) image_pooling_bn_eval(*w->model);
  w->labels = make_labels(c.batch, c.size, gen);
  w->to_image = ResizeParams::to_size(c.size, c.size, w->model->definition().align_corners);
  if (train) {
    SgdOptions sgd;
    sgd.lr = c.lr;
    sgd.momentum = 0.9;
    sgd.weight_decay = 5e-4;
    w->sgd = std::make_unique<Sgd>(w->model->param_groups(), sgd);
  }
  held = std::move(w);
  return *held;
}

Tensor eval_forward(Workload& w) {
  NoGradGuard no_grad;
  return resize_bilinear(w.model->forward(w.image), w.to_image);
}

double train_step(Workload& w) {
  Tensor logits = resize_bilinear(w.model->forward(w.image), w.to_image);
  CrossEntropyParams ce;
  ce.ignore_index = kIgnoreLabel;
  Tensor loss = softmax_cross_entropy(logits, w.labels, ce);
  loss.backward();
  w.sgd->step();
  w.sgd->zero_grad();
  return loss.item_as_double();
}

double alloc_peak_mb() { return static_cast<double>(host_allocator_stats().peak_in_use_bytes) / (1 << 20); }

double max_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void set_counters(benchmark::State& state, int64_t batch) {
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch), benchmark::Counter::kIsRate);
  state.counters["alloc_peak_MB"] = alloc_peak_mb();
  state.counters["max_rss_MB"] = max_rss_mb();
}

void bm_model_eval(benchmark::State& state, const ModelCase& c) {
  Workload& w = workload(c, false);
  static std::string warmed;
  if (warmed != w.key) {
    benchmark::DoNotOptimize(eval_forward(w).data<float>());
    warmed = w.key;
  }
  for (auto _ : state) benchmark::DoNotOptimize(eval_forward(w).data<float>());
  set_counters(state, c.batch);
}

void bm_model_train_step(benchmark::State& state, const ModelCase& c) {
  Workload& w = workload(c, true);
  static std::string warmed;
  if (warmed != w.key) {
    train_step(w);
    warmed = w.key;
  }
  double loss = 0;
  for (auto _ : state) {
    loss = train_step(w);
    benchmark::DoNotOptimize(loss);
  }
  set_counters(state, c.batch);
  state.counters["loss"] = loss;
}

void register_all() {
  for (const ModelCase& c : kModelCases) {
    benchmark::RegisterBenchmark(case_name(c, false).c_str(), bm_model_eval, c)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
    benchmark::RegisterBenchmark(case_name(c, true).c_str(), bm_model_train_step, c)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
  }
}

// The step server: builds one case (named as its benchmark, e.g. BM_model_eval/deeplab-v1-largefov/321), prints
// "ready", then answers each line "step" read from stdin with "step <seconds>" after running one step, and "quit" (or the end of input) with "done {json}" holding the process's peak memory. Warm-up steps are
// the driver's to ask for, as on PyTorch's side (benchmarks/peers/bench_models_pytorch.py --serve), so both are treated alike.
int serve(const std::string& name) {
  for (const ModelCase& c : kModelCases) {
    for (const bool train : {false, true}) {
      if (case_name(c, train) != name) continue;
      Workload& w = workload(c, train);
      std::printf("ready\n");
      std::fflush(stdout);
      std::string line;
      int status = 0;
      while (std::getline(std::cin, line) && line != "quit") {
        if (line != "step") {
          std::fprintf(stderr, "bench_models --serve: unknown command '%s' (step, quit)\n", line.c_str());
          status = 2;
          break;
        }
        const auto start = std::chrono::steady_clock::now();
        if (train)
          benchmark::DoNotOptimize(train_step(w));
        else
          benchmark::DoNotOptimize(eval_forward(w).data<float>());
        const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
        std::printf("step %.9f\n", seconds.count());
        std::fflush(stdout);
      }
      std::printf("done {\"max_rss_mb\": %.1f, \"alloc_peak_mb\": %.1f}\n", max_rss_mb(), alloc_peak_mb());
      std::fflush(stdout);
      return status;
    }
  }
  std::fprintf(stderr, "bench_models --serve: no case named '%s' (--benchmark_list_tests=true lists them)\n",
               name.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  omp_set_num_threads(kThreads);
  if (argc == 3 && std::strcmp(argv[1], "--serve") == 0) return serve(argv[2]);
  benchmark::AddCustomContext("threads", std::to_string(kThreads));
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
