#include "models/segmentation_model.h"

#include <sstream>

namespace atrous {

std::string Preprocessing::str() const {
  std::ostringstream out;
  out << (bgr ? "BGR" : "RGB") << ", x" << input_scale << ", mean (" << mean[0] << ", " << mean[1] << ", " << mean[2]
      << "), std (" << std[0] << ", " << std[1] << ", " << std[2] << ")";
  return out.str();
}

Preprocessing caffe_bgr_preprocessing() {
  Preprocessing p;
  p.bgr = true;
  p.mean = {104.008f, 116.669f, 122.675f};
  return p;
}

Preprocessing imagenet_rgb_preprocessing() {
  Preprocessing p;
  p.input_scale = 1.0 / 255.0;
  p.mean = {0.485f, 0.456f, 0.406f};
  p.std = {0.229f, 0.224f, 0.225f};
  return p;
}

void SegmentationModel::set_output_stride(int output_stride) {
  ATROUS_CHECK(output_stride == definition_.output_stride, definition_.name, ": the output stride is fixed at ",
               definition_.output_stride, " for this architecture (asked for ", output_stride, ")");
}

}  // namespace atrous
