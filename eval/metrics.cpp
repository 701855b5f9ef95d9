#include "eval/metrics.h"

#include <cmath>
#include <limits>

namespace atrous {

ConfusionMatrix::ConfusionMatrix(int num_classes, int ignore_index)
    : num_classes_(num_classes), ignore_index_(ignore_index), counts_(static_cast<size_t>(num_classes) * num_classes) {
  ATROUS_CHECK(num_classes >= 1, "ConfusionMatrix: need at least one class, got ", num_classes);
}

void ConfusionMatrix::add(const Tensor& predictions, const Tensor& labels) {
  ATROUS_CHECK(predictions.defined() && labels.defined() && predictions.shape() == labels.shape(),
               "ConfusionMatrix::add: predictions ", predictions.description(), " and labels ", labels.description(),
               " must have the same shape");
  auto count_pixel = [&](size_t i, int t, int p) {
    if (t == ignore_index_) return;
    ATROUS_CHECK(t >= 0 && t < num_classes_, "ConfusionMatrix::add: label ", t, " at element ", i,
                 " is outside [0, ", num_classes_, ") and is not the ignore label ", ignore_index_);
    ATROUS_CHECK(p >= 0 && p < num_classes_, "ConfusionMatrix::add: prediction ", p, " at element ", i,
                 " is outside [0, ", num_classes_, ")");
    ++counts_[t * num_classes_ + p];
  };
  // Integer maps (what argmax and label files give) are read in place: whole-set evaluation adds millions of pixels
  // per image, and a double copy of both maps would cost more than the counting.
  const Tensor pc = predictions.contiguous(), lc = labels.contiguous();
  const auto n = static_cast<size_t>(pc.numel());
  const bool pred_int = pc.dtype() == DType::i32 || pc.dtype() == DType::u8;
  const bool label_int = lc.dtype() == DType::i32 || lc.dtype() == DType::u8;
  if (pred_int && label_int) {
    auto at = [](const Tensor& t, size_t i) -> int {
      return t.dtype() == DType::u8 ? t.data<uint8_t>()[i] : t.data<int32_t>()[i];
    };
    for (size_t i = 0; i < n; ++i) count_pixel(i, at(lc, i), at(pc, i));
    return;
  }
  const std::vector<double> pred = predictions.to_double_vector();
  const std::vector<double> truth = labels.to_double_vector();
  for (size_t i = 0; i < pred.size(); ++i) count_pixel(i, static_cast<int>(truth[i]), static_cast<int>(pred[i]));
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  ATROUS_CHECK(other.num_classes_ == num_classes_ && other.ignore_index_ == ignore_index_,
               "ConfusionMatrix::merge: matrices differ (", num_classes_, " classes, ignore ", ignore_index_, " vs ",
               other.num_classes_, " classes, ignore ", other.ignore_index_, ")");
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

int64_t ConfusionMatrix::truth_pixels(int truth) const {
  ATROUS_CHECK(truth >= 0 && truth < num_classes_, "ConfusionMatrix::truth_pixels: class ", truth,
               " is outside [0, ", num_classes_, ")");
  int64_t row = 0;
  for (int k = 0; k < num_classes_; ++k) row += count(truth, k);
  return row;
}

int64_t ConfusionMatrix::total() const {
  int64_t all = 0;
  for (int64_t c : counts_) all += c;
  return all;
}

std::vector<double> ConfusionMatrix::class_iou() const {
  std::vector<double> iou(num_classes_);
  for (int c = 0; c < num_classes_; ++c) {
    int64_t tp = count(c, c), row = 0, col = 0;
    for (int k = 0; k < num_classes_; ++k) {
      row += count(c, k);
      col += count(k, c);
    }
    const int64_t denom = row + col - tp;
    iou[c] = denom == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(tp) / denom;
  }
  return iou;
}

double ConfusionMatrix::mean_iou() const {
  double total = 0;
  int defined = 0;
  for (double v : class_iou()) {
    if (std::isnan(v)) continue;
    total += v;
    ++defined;
  }
  return defined ? total / defined : 0.0;
}

double ConfusionMatrix::pixel_accuracy() const {
  int64_t correct = 0, all = 0;
  for (int c = 0; c < num_classes_; ++c) {
    correct += count(c, c);
    for (int k = 0; k < num_classes_; ++k) all += count(c, k);
  }
  return all ? static_cast<double>(correct) / all : 0.0;
}

}  // namespace atrous
