// Trimap evaluation bands (DeepLab v1 section 5, Fig. 5, after Kohli et al. 2009): the pixels within a band of
// `band` pixels around label boundaries, where segmentation errors concentrate. mIoU restricted to the band shows
// how well a model (or the CRF) places boundaries.
#pragma once
#include "core/tensor.h"

namespace atrous {

// labels: integer [H,W] (u8 or i32). Returns u8 [H,W] holding 1 where the pixel is within `band` pixels, in
// Chebyshev distance (a (2 band + 1)^2 square window), of a pixel with a different label, else 0. Ignore pixels are
// never in the band themselves. With ignore_is_boundary (the default) an ignore pixel counts as "a different label":
// VOC draws its object outlines as a 5-pixel ignore band, so there the boundary *is* the edge of the ignore region
// (DeepLab's trimap dilates those void outlines). Without it, ignore pixels are invisible to the test. band 0 gives
// an empty mask; band < 0 is an error.
Tensor trimap_mask(const Tensor& labels, int band, int ignore_index, bool ignore_is_boundary = true);

}  // namespace atrous
