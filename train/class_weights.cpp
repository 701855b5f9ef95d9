#include "train/class_weights.h"

#include <algorithm>

#include "core/error.h"

namespace atrous {

std::vector<float> median_frequency_weights(const SegmentationDataset& dataset) {
  const int classes = dataset.num_classes();
  ATROUS_CHECK(dataset.size() > 0, "median_frequency_weights: ", dataset.describe(), " holds no images");
  std::vector<double> class_pixels(classes, 0.0), present_pixels(classes, 0.0);
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const Tensor label = dataset.get(i).label.contiguous();
    const uint8_t* p = label.data<uint8_t>();
    std::vector<int64_t> counts(classes, 0);
    int64_t valid = 0;
    for (int64_t k = 0; k < label.numel(); ++k) {
      if (p[k] < classes) {
        ++counts[p[k]];
        ++valid;
      }
    }
    for (int c = 0; c < classes; ++c) {
      class_pixels[c] += counts[c];
      if (counts[c] > 0) present_pixels[c] += valid;
    }
  }
  std::vector<double> frequency;
  for (int c = 0; c < classes; ++c)
    if (present_pixels[c] > 0) frequency.push_back(class_pixels[c] / present_pixels[c]);
  ATROUS_CHECK(!frequency.empty(), "median_frequency_weights: ", dataset.describe(), " has no labelled pixel");
  std::sort(frequency.begin(), frequency.end());
  const size_t n = frequency.size();
  const double median = n % 2 ? frequency[n / 2] : 0.5 * (frequency[n / 2 - 1] + frequency[n / 2]);
  std::vector<float> weights(classes, 0.0f);
  for (int c = 0; c < classes; ++c)
    if (present_pixels[c] > 0) weights[c] = static_cast<float>(median / (class_pixels[c] / present_pixels[c]));
  return weights;
}

}  // namespace atrous
