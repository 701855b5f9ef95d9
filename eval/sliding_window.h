// Sliding-window inference for images larger than the training crop (DeepLab v2 on Cityscapes processes 2048x1024
// images in overlapping crops): the model sees inputs the size it was trained on, and overlapping windows' logits
// are averaged so that no seam shows where windows meet.
#pragma once
#include <vector>

#include "models/segmentation_model.h"

namespace atrous {

// Start offsets of crop-sized windows along an axis of `length` (>= crop): every `stride`, the last one moved back to
// end flush with the axis so that every position is covered without running past it.
std::vector<int64_t> window_starts(int64_t length, int64_t crop, int64_t stride);

// input: preprocessed f32 [1,H,W,C_in] on the model's device. Returns f32 logits [1,H,W,classes] at the input's
// resolution, on the input's device.
// Windows are crop_size x crop_size, `overlap` (in [0, 1)) of a window shared with its neighbour, i.e. a stride of
// ceil(crop (1 - overlap)). An input smaller than the crop along an axis is padded at the bottom/right with zeros,
// which in normalised space is the preprocessing mean, as training pads its crops. Each window's logits are resized
// to the window (the model's align_corners) and averaged where windows overlap. Eval mode, no graph recorded.
Tensor sliding_window_logits(SegmentationModel& model, const Tensor& input, int crop_size, double overlap);

}  // namespace atrous
