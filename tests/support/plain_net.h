// PlainNet: a small segmentation net without batch norm, for tests where a larger batch must equal accumulated or
// distributed smaller ones exactly (batch norm would make the statistics depend on the split).
#pragma once
#include <memory>

#include "core/atrous.h"
#include "layers/conv2d.h"
#include "models/segmentation_model.h"

namespace atrous::testing {

// A small segmentation net without batch norm (so that accumulation is exactly a larger batch): conv, ReLU,
// stride-2 conv, ReLU, 1x1 classifier; output stride 2.
class PlainNet : public SegmentationModel {
 public:
  PlainNet(int classes, Generator& gen) : SegmentationModel("PlainNet", make_definition(classes)) {
    conv1_ = register_module("conv1", std::make_shared<Conv2d>(Conv2dOptions(3, 8, 3).with_same_padding(), gen));
    conv2_ =
        register_module("conv2", std::make_shared<Conv2d>(Conv2dOptions(8, 8, 3).with_stride(2).with_padding(1), gen));
    classifier_ =
        register_module("classifier", std::make_shared<Conv2d>(Conv2dOptions(8, classes, 1).with_lr_mult(10, 20), gen));
  }
  Tensor forward(const Tensor& x) override {
    return classifier_->forward(relu(conv2_->forward(relu(conv1_->forward(x)))));
  }

 private:
  static ModelDefinition make_definition(int classes) {
    ModelDefinition d;
    d.name = "plain-net";
    d.description = "PlainNet (test): 3x3 conv, 3x3/2 conv, 1x1 classifier";
    d.num_classes = classes;
    d.output_stride = 2;
    d.align_corners = true;
    d.preprocessing.input_scale = 1.0 / 64.0;
    d.preprocessing.mean = {2.0f, 2.0f, 2.0f};
    return d;
  }
  std::shared_ptr<Conv2d> conv1_, conv2_, classifier_;
};

}  // namespace atrous::testing
