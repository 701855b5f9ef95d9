// Segmentation metrics from a confusion matrix accumulated over a whole set: per-class IoU, mIoU, pixel accuracy.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace atrous {

class ConfusionMatrix {
 public:
  ConfusionMatrix(int num_classes, int ignore_index = 255);

  // predictions and labels: same shape, integer (i32 or u8); pixels labelled ignore_index are skipped.
  void add(const Tensor& predictions, const Tensor& labels);

  // Adds another matrix's counts (e.g. one per worker or per shard); both must have the same classes and ignore.
  void merge(const ConfusionMatrix& other);

  // The counts, [truth * num_classes + predicted]: data-parallel evaluation sums them over ranks in place.
  std::vector<int64_t>& counts() { return counts_; }

  int num_classes() const { return num_classes_; }
  int ignore_index() const { return ignore_index_; }
  int64_t count(int truth, int predicted) const { return counts_[truth * num_classes_ + predicted]; }
  // IoU per class: TP / (TP + FP + FN); NaN for a class absent from both labels and predictions.
  std::vector<double> class_iou() const;
  double mean_iou() const;  // mean over classes with a defined IoU
  double pixel_accuracy() const;
  int64_t truth_pixels(int truth) const;  // pixels labelled `truth` (a row sum)
  int64_t total() const;                  // every counted pixel

 private:
  int num_classes_;
  int ignore_index_;
  std::vector<int64_t> counts_;
};

}  // namespace atrous
