#include "eval/sliding_window.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/atrous.h"

namespace atrous {

std::vector<int64_t> window_starts(int64_t length, int64_t crop, int64_t stride) {
  ATROUS_CHECK(crop >= 1 && stride >= 1 && length >= crop,
               "window_starts: need crop >= 1, stride >= 1 and length >= crop, got length ", length, ", crop ", crop,
               ", stride ", stride);
  std::vector<int64_t> starts;
  for (int64_t s = 0;; s += stride) {
    if (s + crop >= length) {
      starts.push_back(length - crop);
      break;
    }
    starts.push_back(s);
  }
  return starts;
}

Tensor sliding_window_logits(SegmentationModel& model, const Tensor& input, int crop_size, double overlap) {
  ATROUS_CHECK(input.defined() && input.dim() == 4 && input.size(0) == 1 && input.dtype() == DType::f32,
               "sliding_window_logits: expected one preprocessed image f32 [1,H,W,C], got ", input.description());
  ATROUS_CHECK(crop_size >= 1, "sliding_window_logits: crop_size must be >= 1, got ", crop_size);
  ATROUS_CHECK(std::isfinite(overlap) && overlap >= 0 && overlap < 1,
               "sliding_window_logits: window overlap must be in [0, 1), got ", overlap);
  NoGradGuard no_grad;
  model.eval();
  const int64_t h = input.size(1), w = input.size(2), cin = input.size(3), crop = crop_size;
  const int64_t ph = std::max(h, crop), pw = std::max(w, crop);
  // Padding and the overlap average are host loops: the model runs on the input's device, one window at a time
  // copied there, its logits copied back (small next to the forward pass).
  const Device device = input.device();
  const Tensor source = input.to(Device::cpu()).contiguous();
  Tensor padded = source;
  if (ph != h || pw != w) {
    padded = Tensor::zeros({1, ph, pw, cin});
    for (int64_t y = 0; y < h; ++y)
      std::memcpy(padded.data<float>() + y * pw * cin, source.data<float>() + y * w * cin, w * cin * sizeof(float));
  }
  const int64_t stride = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(crop * (1.0 - overlap))));
  const bool align = model.definition().align_corners;

  Tensor sum;  // [ph, pw, classes]
  std::vector<float> hits(ph * pw, 0.0f);
  int64_t classes = 0;
  for (int64_t y0 : window_starts(ph, crop, stride)) {
    for (int64_t x0 : window_starts(pw, crop, stride)) {
      const Tensor window = padded.slice(1, y0, y0 + crop).slice(2, x0, x0 + crop).contiguous().to(device);
      Tensor logits = model.forward(window);
      ATROUS_CHECK(logits.dim() == 4 && logits.size(0) == 1, "sliding_window_logits: the model returned ",
                   logits.description(), " for a window ", window.description());
      if (logits.size(1) != crop || logits.size(2) != crop)
        logits = resize_bilinear(logits, ResizeParams::to_size(crop, crop, align));
      logits = logits.to(Device::cpu()).contiguous();
      if (!sum.defined()) {
        classes = logits.size(3);
        sum = Tensor::zeros({ph, pw, classes});
      }
      float* acc = sum.data<float>();
      const float* src = logits.data<float>();
      for (int64_t y = 0; y < crop; ++y) {
        float* row = acc + ((y0 + y) * pw + x0) * classes;
        const float* in = src + y * crop * classes;
        for (int64_t i = 0; i < crop * classes; ++i) row[i] += in[i];
        for (int64_t x = 0; x < crop; ++x) hits[(y0 + y) * pw + x0 + x] += 1.0f;
      }
    }
  }
  // Average, keeping only the unpadded region.
  Tensor out = Tensor::empty({1, h, w, classes});
  float* dst = out.data<float>();
  const float* acc = sum.data<float>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const float inv = 1.0f / hits[y * pw + x];
      const float* a = acc + (y * pw + x) * classes;
      float* d = dst + (y * w + x) * classes;
      for (int64_t c = 0; c < classes; ++c) d[c] = a[c] * inv;
    }
  return out.to(device);
}

}  // namespace atrous
