// Class-balanced loss weights by median frequency balancing (Eigen & Fergus 2015, as SegNet trains on CamVid):
// w_c = median(f) / f_c, where f_c = pixels of class c / pixels of the images in which c appears. Rare classes
// (poles, signs, cyclists) then weigh as much in the loss as they do in the mIoU.
#pragma once
#include <vector>

#include "data/dataset.h"

namespace atrous {

// Reads every label map of the dataset once (images are decoded too, the dataset hands out pairs). Ignored pixels
// are not counted; a class that never appears gets weight 0 (it contributes no loss anyway).
std::vector<float> median_frequency_weights(const SegmentationDataset& dataset);

}  // namespace atrous
