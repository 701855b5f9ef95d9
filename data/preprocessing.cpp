#include "data/preprocessing.h"

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

Tensor preprocess(const Tensor& rgb_in, const Preprocessing& p) {
  ATROUS_CHECK(rgb_in.defined() && (rgb_in.dim() == 3 || rgb_in.dim() == 4) && rgb_in.size(-1) == 3 &&
                   (rgb_in.dtype() == DType::u8 || rgb_in.dtype() == DType::f32),
               "preprocess: expected an RGB image u8/f32 [H,W,3] or [N,H,W,3], got ", rgb_in.description());
  for (float s : p.std) ATROUS_CHECK(s > 0, "preprocess: std must be positive, got ", p.str());
  const Tensor rgb = (rgb_in.dim() == 3 ? rgb_in.reshape({1, rgb_in.size(0), rgb_in.size(1), 3}) : rgb_in)
                         .to(DType::f32)
                         .contiguous();
  Tensor out = Tensor::empty(rgb.shape(), DType::f32);
  const float* src = rgb.data<float>();
  float* dst = out.data<float>();
  const int64_t pixels = rgb.numel() / 3;
  for (int64_t i = 0; i < pixels; ++i) {
    for (int c = 0; c < 3; ++c) {
      const float v = src[3 * i + (p.bgr ? 2 - c : c)] * static_cast<float>(p.input_scale);
      dst[3 * i + c] = (v - p.mean[c]) / p.std[c];
    }
  }
  return out;
}

}  // namespace atrous
