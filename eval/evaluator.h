// Evaluation of a segmentation model on a whole dataset split: one confusion matrix over every pixel of the set
// (as the VOC/Cityscapes benchmarks score), per-class IoU, mIoU, pixel accuracy, trimap mIoU (only pixels within a
// band around label boundaries), with multi-scale + flip inference and sliding windows for images larger than the
// crop; colour masks and overlays written for a sample of images.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "eval/metrics.h"
#include "models/segmentation_model.h"

namespace atrous::dist {
class Communicator;  // dist/communicator.h
}  // namespace atrous::dist

namespace atrous {

struct EvaluationOptions {
  // Where the model runs: evaluate and infer_image move the model's parameters and buffers there and copy each
  // preprocessed image there; logits come back to the CPU for the refine hook, the metrics and the PNGs.
  Device device = Device::cpu();
  std::vector<double> scales{1.0};
  bool flip = false;
  int crop_size = 0;               // > 0: images larger than this are inferred in crop_size windows (sliding)
  double window_overlap = 1.0 / 3;  // fraction of the window shared by neighbours
  std::vector<int> trimap_bands;    // e.g. {2, 5, 10}: mIoU within this many pixels of a label boundary
  int64_t limit = 0;                // > 0: only the first `limit` images
  std::string output_dir;           // non-empty: write <id>_mask.png and <id>_overlay.png there
  int write_samples = 8;            // how many images get masks/overlays written
  // Optional post-processing of each image's logits [H,W,C] given its RGB image (the dense CRF plugs in here).
  std::function<Tensor(const Tensor& image_rgb, const Tensor& logits)> refine;
  bool progress = false;            // print a progress line to stderr
  // Data-parallel evaluation: with more than one rank, rank r infers images r, r + size, ... and the confusion
  // matrices and image counts are summed over ranks, so every rank returns the whole set's result.
  std::shared_ptr<dist::Communicator> ranks;
};

struct EvaluationResult {
  ConfusionMatrix confusion;
  std::vector<std::pair<int, double>> trimap_miou;  // (band, mIoU)
  int64_t images = 0;
  double seconds = 0;
  std::vector<std::string> class_names;

  std::string table() const;  // per-class IoU table, mIoU, pixel accuracy, trimap rows
  std::string json() const;
};

// Uses the model's preprocessing and align_corners; puts the model in eval mode; records no graph.
EvaluationResult evaluate(SegmentationModel& model, const SegmentationDataset& dataset, const EvaluationOptions& options);

// Logits [H,W,C] on the CPU for one RGB u8 image (on the CPU), computed on options.device, with scales/flip and
// sliding windows (crop_size > 0 and the scaled image is larger than the crop). Windows' logits are averaged where
// they overlap.
Tensor infer_image(SegmentationModel& model, const Tensor& image_rgb, const EvaluationOptions& options);

}  // namespace atrous
