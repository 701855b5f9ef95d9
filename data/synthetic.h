// Deterministic synthetic segmentation data: textured shapes on a textured background, one class per shape kind.
// Used by the quickstart and by tests, where a model must learn something real but no dataset may be downloaded.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace atrous {

struct SyntheticConfig {
  int height = 64;
  int width = 64;
  int num_classes = 4;     // class 0 is the background; 1..K-1 are shape kinds (disc, box, triangle, ring, ...)
  int shapes_per_image = 3;
  uint64_t seed = 1;
};

struct SegmentationSample {
  Tensor image;  // f32 [H,W,3], values 0..255 (RGB)
  Tensor label;  // u8 [H,W], class per pixel
};

// Sample `index` of the stream given by config.seed: the same (config, index) always gives the same sample.
SegmentationSample make_synthetic_sample(const SyntheticConfig& config, int64_t index);

// A batch: images [B,H,W,3] normalised to roughly zero mean and unit variance, labels [B,H,W] u8.
struct SegmentationBatch {
  Tensor images;
  Tensor labels;
};
SegmentationBatch make_synthetic_batch(const SyntheticConfig& config, int64_t first_index, int batch_size);

}  // namespace atrous
