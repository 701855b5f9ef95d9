// Input normalisation as each model family was trained with it: Caffe DeepLab takes BGR 0..255 minus a mean;
// torchvision takes RGB/255, minus the ImageNet mean, divided by its std.
#pragma once
#include <array>
#include <string>

#include "core/tensor.h"

namespace atrous {

struct Preprocessing {
  bool bgr = false;                      // Caffe models take BGR
  double input_scale = 1.0;              // applied first: 1 for 0..255 inputs (Caffe), 1/255 for torchvision
  std::array<float, 3> mean{0, 0, 0};    // subtracted after scaling, in the model's channel order
  std::array<float, 3> std{1, 1, 1};     // divided after the mean
  std::string str() const;
};

// Caffe DeepLab (v1/v2 VGG and ResNet): BGR, 0..255, mean (104.008, 116.669, 122.675), no std.
Preprocessing caffe_bgr_preprocessing();
// torchvision / TF DeepLabv3 as ported to PyTorch: RGB/255, ImageNet mean (0.485, 0.456, 0.406) / std (0.229, 0.224, 0.225).
Preprocessing imagenet_rgb_preprocessing();

// RGB image u8 [H,W,3] (or a batch [N,H,W,3]) -> f32 [N,H,W,3] ready for the model.
Tensor preprocess(const Tensor& rgb, const Preprocessing& p);

}  // namespace atrous
