#include "models/inference.h"

#include <cmath>
#include <cstring>

#include "core/atrous.h"
#include "core/device_name.h"

namespace atrous {

Tensor flip_horizontal(const Tensor& x_in) {
  ATROUS_CHECK(x_in.defined() && x_in.dim() == 4 && x_in.dtype() == DType::f32,
               "flip_horizontal: expected f32 [N,H,W,C], got ", x_in.description());
  // There is no flip kernel: a CUDA tensor makes a round trip through the host (once per flipped input and its
  // logits, small next to the forward pass between them).
  if (x_in.device().is_cuda()) return flip_horizontal(x_in.to(Device::cpu())).to(x_in.device());
  const Tensor x = x_in.contiguous();
  Tensor out = Tensor::empty(x.shape(), DType::f32);
  const int64_t rows = x.size(0) * x.size(1), w = x.size(2), c = x.size(3);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < w; ++i)
      std::memcpy(out.data<float>() + (r * w + i) * c, x.data<float>() + (r * w + (w - 1 - i)) * c, c * sizeof(float));
  return out;
}

Tensor predict_logits(SegmentationModel& model, const Tensor& image, const InferenceOptions& options) {
  ATROUS_CHECK(image.defined() && image.dim() == 3 && image.size(2) == 3 && image.dtype() == DType::u8,
               "predict_logits: expected an RGB image u8 [H,W,3], got ", image.description());
  ATROUS_CHECK(!options.scales.empty(), "predict_logits: need at least one scale");
  for (double s : options.scales)
    ATROUS_CHECK(s > 0 && std::isfinite(s), "predict_logits: scales must be positive, got ", s);
  require_device_available(options.device, "predict_logits");
  NoGradGuard no_grad;
  model.to(options.device);
  model.eval();
  const int64_t h = image.size(0), w = image.size(1);
  const bool align = model.definition().align_corners;
  const Tensor input = preprocess(image.to(Device::cpu()), options.preprocessing).to(options.device);
  Tensor total;
  int count = 0;
  for (double s : options.scales) {
    const Tensor scaled =
        s == 1.0 ? input
                 : resize_bilinear(input, ResizeParams::to_size(std::max<int64_t>(1, std::llround(h * s)),
                                                                std::max<int64_t>(1, std::llround(w * s)), align));
    for (int flipped = 0; flipped <= (options.flip ? 1 : 0); ++flipped) {
      Tensor logits = model.forward(flipped ? flip_horizontal(scaled) : scaled);
      if (flipped) logits = flip_horizontal(logits);
      logits = resize_bilinear(logits, ResizeParams::to_size(h, w, align));
      total = total.defined() ? add(total, logits) : logits;
      ++count;
    }
  }
  if (count > 1) total = scale(total, 1.0 / count);
  return total.reshape({h, w, total.size(3)}).to(Device::cpu());
}

}  // namespace atrous
