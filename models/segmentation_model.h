// What every segmentation network in the zoo is: a Module mapping a preprocessed NHWC image batch to class logits
// at its output stride, that states its own definition (so weights never silently load into a model computing
// something else) and its input preprocessing.
#pragma once
#include <string>
#include <vector>

#include "data/preprocessing.h"
#include "layers/module.h"

namespace atrous {

struct ModelDefinition {
  std::string name;          // registry name
  std::string description;   // e.g. "DeepLab-v1 VGG-16 LargeFOV: fc6 3x3 rate 12 (1024), fc7 1024"
  int num_classes = 21;
  int output_stride = 8;
  bool align_corners = true;  // how logits are resized to the image (Caffe Interp / TF: true; torchvision: false)
  Preprocessing preprocessing;
};

class SegmentationModel : public Module {
 public:
  SegmentationModel(std::string type_name, ModelDefinition definition)
      : Module(std::move(type_name)), definition_(std::move(definition)) {}

  // x: preprocessed [N,H,W,3] -> logits [N, ceil(H/os), ceil(W/os), num_classes] (exact size per architecture).
  Tensor forward(const Tensor& x) override = 0;
  // Training-time outputs: for multi-scale (MSC) models every scale's logits and the fused map (each gets a loss);
  // for others just {forward(x)}.
  virtual std::vector<Tensor> forward_all_scales(const Tensor& x) { return {forward(x)}; }
  // Changes the output stride where the architecture allows it (DeepLabv3: 8/16/32), scaling every atrous rate.
  virtual void set_output_stride(int output_stride);

  const ModelDefinition& definition() const { return definition_; }
  int num_classes() const { return definition_.num_classes; }
  int output_stride() const { return definition_.output_stride; }
  std::string describe() const override { return definition_.description; }
  // The input normalisation the weights were trained with, when it differs from the architecture's default (a
  // weights file records it; see models/model_metadata.h).
  void set_preprocessing(const Preprocessing& p) { definition_.preprocessing = p; }

 protected:
  ModelDefinition definition_;
};

}  // namespace atrous
