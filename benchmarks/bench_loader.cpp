// Loader throughput (images/s) with DeepLab v2's training augmentation: crop 321, scale 0.5-1.5, flip, batch 10,
// Caffe BGR-mean normalisation, 1 and 2 workers. On CamVid (JPEG decode of 480x360 images; root from
// ATROUS_CAMVID_ROOT, default /work/shared/data/camvid, skipped with a message when absent) and on the synthetic
// dataset (generation instead of decoding). The consumer only takes batches, so the rate is what the workers
// sustain; issue 4 wants it at least 3x what a training step consumes.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "data/loader.h"

using namespace atrous;

namespace {

LoaderOptions v2_training_options(int workers) {
  LoaderOptions o;
  o.batch_size = 10;
  o.workers = workers;
  o.prefetch_batches = 4;
  o.augmentation.crop_height = o.augmentation.crop_width = 321;
  o.augmentation.scale_min = 0.5;
  o.augmentation.scale_max = 1.5;
  o.augmentation.flip = true;
  o.preprocessing = caffe_bgr_preprocessing();
  return o;
}

// One iteration takes one batch; epochs restart as they run out, as in training.
void bm_loader(benchmark::State& state, const DatasetSpec& spec, int workers) {
  std::unique_ptr<SegmentationDataset> dataset = open_dataset(spec);
  const LoaderOptions options = v2_training_options(workers);
  DataLoader loader(*dataset, options);
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  for (auto _ : state) {
    std::optional<Batch> batch = loader.next();
    if (!batch) {
      loader.start_epoch(++epoch);
      batch = loader.next();
    }
    benchmark::DoNotOptimize(batch->images.data<float>());
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * options.batch_size, benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  const char* env = std::getenv("ATROUS_CAMVID_ROOT");
  const std::string camvid_root = env ? env : "/work/shared/data/camvid";
  DatasetSpec camvid{"camvid", camvid_root, "train"};
  DatasetSpec synthetic;
  synthetic.kind = "synthetic";
  synthetic.synthetic_size = 360;  // CamVid's height: a comparable amount of pixels per sample
  synthetic.synthetic_classes = 11;
  synthetic.synthetic_count = 200;

  const bool have_camvid = std::filesystem::exists(std::filesystem::path(camvid_root) / "train.txt");
  if (!have_camvid) {
    std::fprintf(stderr, "bench_loader: no CamVid at '%s' (set ATROUS_CAMVID_ROOT); CamVid cases skipped\n",
                 camvid_root.c_str());
  }
  // Real time: the work happens on the worker threads, the main thread mostly waits.
  for (int workers : {1, 2}) {
    if (have_camvid) {
      benchmark::RegisterBenchmark(
          ("BM_loader/camvid_crop321_scale0.5-1.5_flip_batch10/workers:" + std::to_string(workers)).c_str(), bm_loader,
          camvid, workers)
          ->UseRealTime()
          ->MinTime(3.0)
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark(
        ("BM_loader/synthetic360_crop321_scale0.5-1.5_flip_batch10/workers:" + std::to_string(workers)).c_str(),
        bm_loader, synthetic, workers)
        ->UseRealTime()
        ->MinTime(3.0)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
