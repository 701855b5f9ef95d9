// The synthetic dataset: data/synthetic.h's generated samples as a SegmentationDataset. Train and val draw from
// disjoint index ranges of the same stream, so validation never sees a training image.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/dataset_impl.h"
#include "data/synthetic.h"

namespace atrous::detail {
namespace {

// Val samples start this far into the stream: far beyond any train count.
constexpr int64_t kValFirstIndex = int64_t(1) << 40;

class SyntheticDataset : public SegmentationDataset {
 public:
  SyntheticDataset(const DatasetSpec& spec)
      : split_(spec.split), count_(spec.synthetic_count), first_(spec.split == "val" ? kValFirstIndex : 0) {
    config_.height = spec.synthetic_size;
    config_.width = spec.synthetic_size;
    config_.num_classes = spec.synthetic_classes;
    config_.seed = spec.synthetic_seed;
    ATROUS_CHECK(spec.split == "train" || spec.split == "val",
                 "synthetic dataset: split must be 'train' or 'val', got '", spec.split, "'");
    ATROUS_CHECK(spec.synthetic_size >= 8 && spec.synthetic_size <= 4096,
                 "synthetic dataset: image size must be 8..4096, got ", spec.synthetic_size);
    ATROUS_CHECK(spec.synthetic_classes >= 2 && spec.synthetic_classes <= 255,
                 "synthetic dataset: classes must be 2..255, got ", spec.synthetic_classes);
    ATROUS_CHECK(count_ >= 1 && count_ < kValFirstIndex, "synthetic dataset: count must be >= 1, got ", count_);
    ATROUS_CHECK(spec.limit >= 0, "dataset limit must be >= 0 (0 = all), got ", spec.limit);
    if (spec.limit > 0) count_ = std::min(count_, spec.limit);
  }

  int64_t size() const override { return count_; }
  int num_classes() const override { return config_.num_classes; }
  int ignore_index() const override { return 255; }
  std::string palette_name() const override { return "voc"; }
  std::string describe() const override {
    return detail::concat("synthetic, split ", split_, ", ", count_, " images of ", config_.height, "x", config_.width,
                          ", ", config_.num_classes, " classes, seed ", config_.seed);
  }

  LabeledImage get(int64_t index) const override {
    ATROUS_CHECK(index >= 0 && index < count_, "synthetic dataset (", split_, "): index ", index, " is outside [0, ",
                 count_, ")");
    SegmentationSample s = make_synthetic_sample(config_, first_ + index);
    LabeledImage out;
    out.image = Tensor::empty(s.image.shape(), DType::u8);
    const float* src = s.image.data<float>();
    uint8_t* dst = out.image.data<uint8_t>();
    for (int64_t i = 0; i < s.image.numel(); ++i) {
      dst[i] = static_cast<uint8_t>(std::lround(std::clamp(src[i], 0.0f, 255.0f)));
    }
    out.label = s.label;
    out.id = detail::concat("synthetic_", split_, "_", index);
    return out;
  }

 private:
  SyntheticConfig config_;
  std::string split_;
  int64_t count_;
  int64_t first_;
};

}  // namespace

std::unique_ptr<SegmentationDataset> open_synthetic(const DatasetSpec& spec) {
  return std::make_unique<SyntheticDataset>(spec);
}

}  // namespace atrous::detail
