#include "models/segmentation_model.h"

namespace atrous {

void SegmentationModel::set_output_stride(int output_stride) {
  ATROUS_CHECK(output_stride == definition_.output_stride, definition_.name, ": the output stride is fixed at ",
               definition_.output_stride, " for this architecture (asked for ", output_stride, ")");
}

}  // namespace atrous
