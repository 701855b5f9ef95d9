// Training a DeepLab on CamVid with a hand-written loop against the library API, as a model for your own trainer:
// dataset -> prefetching loader -> model -> loss -> backward -> SGD step under a poly LR policy -> evaluate.
// (`atrous train` does the same with checkpoints, resume, logs and a progress bar: train/trainer.h.)
//
//   example_train_camvid /path/to/camvid [iterations]
//
// The folder holds train.txt and val.txt with "IMAGE LABEL" lines (see ../shared/data/camvid/README.md). Without
// arguments (as ctest runs it) it writes a tiny CamVid-shaped folder of generated images and trains a few steps.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/atrous.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "data/synthetic.h"
#include "eval/evaluator.h"
#include "models/registry.h"
#include "solvers/lr_policy.h"
#include "solvers/sgd.h"

using namespace atrous;

// A folder laid out like CamVid (JPEG images, grey PNG label maps, list files) from generated shapes, so this
// program runs anywhere. Shape classes 1..3 become CamVid ids 1..3 and a stripe of void (11) is left unlabelled.
std::string write_tiny_camvid(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  for (const char* dir : {"train", "trainannot", "val", "valannot"}) fs::create_directories(root / dir);
  SyntheticConfig shapes;
  shapes.height = 48;
  shapes.width = 64;
  shapes.num_classes = 4;
  for (const char* split : {"train", "val"}) {
    std::ofstream list(root / (std::string(split) + ".txt"));
    const int count = std::string(split) == "train" ? 16 : 4;
    for (int i = 0; i < count; ++i) {
      SegmentationSample s = make_synthetic_sample(shapes, (std::string(split) == "train" ? 0 : 100000) + i);
      Tensor label = s.label.clone();
      uint8_t* l = label.data<uint8_t>();
      for (int x = 0; x < shapes.width; ++x) l[x] = 11;  // top row: void
      const std::string name = std::string(split) + "_" + std::to_string(i);
      write_jpeg((root / split / (name + ".jpg")).string(), s.image.to(DType::u8));
      write_png((root / (std::string(split) + "annot") / (name + ".png")).string(), label);
      list << split << "/" << name << ".jpg " << split << "annot/" << name << ".png\n";
    }
  }
  return root.string();
}

int main(int argc, char** argv) {
  const bool demo = argc < 2;
  const std::string root =
      demo ? write_tiny_camvid(std::filesystem::temp_directory_path() / "atrous_example_camvid") : argv[1];
  const int iterations = argc >= 3 ? std::stoi(argv[2]) : (demo ? 12 : 1000);

  // Data: CamVid's 11 classes, void (11) ignored.
  DatasetSpec train_spec{"camvid", root, "train"};
  DatasetSpec val_spec{"camvid", root, "val"};
  auto train_set = open_dataset(train_spec);
  auto val_set = open_dataset(val_spec);
  std::printf("%s\n%s\n", train_set->describe().c_str(), val_set->describe().c_str());

  // Model: any registered architecture; TinyDeepLab trains from scratch on a CPU.
  ModelOptions model_options;
  model_options.num_classes = train_set->num_classes();
  auto model = create_model("tiny-deeplab", model_options);

  // Loader: random scale around half resolution, crops, flips, normalised as the model expects; two worker threads
  // prepare batches while this thread trains.
  LoaderOptions loader_options;
  loader_options.batch_size = 4;
  loader_options.augmentation.crop_height = loader_options.augmentation.crop_width = demo ? 48 : 176;
  loader_options.augmentation.scale_min = demo ? 0.75 : 0.4;
  loader_options.augmentation.scale_max = demo ? 1.25 : 0.6;
  loader_options.preprocessing = model->definition().preprocessing;
  DataLoader loader(*train_set, loader_options);

  // SGD over the model's parameter groups (its classifier at 10x lr), poly schedule.
  Sgd sgd(model->param_groups(), SgdOptions{/*lr=*/0.05, /*momentum=*/0.9, /*weight_decay=*/5e-4, /*nesterov=*/false});
  LrPolicy policy;
  policy.kind = LrSchedule::poly;
  policy.base_lr = 0.05;
  policy.max_iterations = iterations;
  policy.validate();

  CrossEntropyParams loss_params;
  loss_params.ignore_index = train_set->ignore_index();
  model->train();
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  double first_losses = 0, last_losses = 0;
  for (int it = 0; it < iterations; ++it) {
    std::optional<Batch> batch = loader.next();
    if (!batch) {  // end of the epoch: the next one comes in a new order
      loader.start_epoch(++epoch);
      batch = loader.next();
    }
    sgd.set_lr(policy.lr_at(it));
    // Logits come out at the output stride; bring them to the labels' size for the loss (DeepLabv3's way).
    const Tensor logits = model->forward(batch->images);
    const Tensor upsampled = resize_bilinear(
        logits, ResizeParams::to_size(batch->labels.size(1), batch->labels.size(2), model->definition().align_corners));
    const Tensor loss = softmax_cross_entropy(upsampled, batch->labels, loss_params);
    sgd.zero_grad();
    loss.backward();
    sgd.step();
    const double value = loss.item<double>();
    if (it < 3) first_losses += value / 3;
    if (it >= iterations - 3) last_losses += value / 3;
    if (it % 10 == 0 || it == iterations - 1)
      std::printf("iteration %4d  epoch %lld  loss %.4f  lr %.5f\n", it + 1, static_cast<long long>(epoch), value,
                  sgd.lr());
  }

  // Evaluation over the whole val split: one confusion matrix, per-class IoU (at the training resolution).
  EvaluationOptions eval;
  eval.scales = {demo ? 1.0 : 0.5};
  const EvaluationResult result = evaluate(*model, *val_set, eval);
  std::printf("%s", result.table().c_str());
  std::printf("mean loss of the first 3 iterations %.4f, of the last 3 %.4f\n", first_losses, last_losses);
  // CI notices when training stops learning.
  return last_losses < first_losses ? 0 : 1;
}
