// Whole-image inference: sizes, flips and scales compose as documented.
#include <gtest/gtest.h>

#include "core/atrous.h"
#include "models/inference.h"
#include "models/tiny_deeplab.h"

using namespace atrous;

namespace {
Tensor random_image(int64_t h, int64_t w, uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform({h, w, 3}, 0, 255, gen).to(DType::u8);
}
double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_double_vector(), y = b.to_double_vector();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}
}  // namespace

TEST(Inference, SingleScaleEqualsResizedForward) {
  Generator gen(1);
  TinyDeepLab model(TinyDeepLabConfig{}, gen);
  const Tensor image = random_image(30, 41, 2);
  InferenceOptions options;
  options.preprocessing = caffe_bgr_preprocessing();
  const Tensor logits = predict_logits(model, image, options);
  EXPECT_EQ(logits.shape(), (Shape{30, 41, 4}));
  EXPECT_FALSE(model.is_training());
  NoGradGuard no_grad;
  const Tensor manual = resize_bilinear(model.forward(preprocess(image, options.preprocessing)),
                                        ResizeParams::to_size(30, 41, true));
  EXPECT_LT(max_abs_diff(logits, manual.reshape({30, 41, 4})), 1e-6);
}

TEST(Inference, FlipAndScalesAverage) {
  Generator gen(3);
  TinyDeepLab model(TinyDeepLabConfig{}, gen);
  const Tensor image = random_image(24, 32, 4);
  InferenceOptions plain, flipped;
  flipped.flip = true;
  const Tensor a = predict_logits(model, image, plain);
  const Tensor both = predict_logits(model, image, flipped);
  // Average of the plain and the flipped pass, so flipped-only = 2 * both - plain.
  NoGradGuard no_grad;
  const Tensor x = preprocess(image, plain.preprocessing);
  Tensor f = flip_horizontal(model.forward(flip_horizontal(x)));
  f = resize_bilinear(f, ResizeParams::to_size(24, 32, true)).reshape({24, 32, 4});
  EXPECT_LT(max_abs_diff(scale(add(a, f), 0.5), both), 1e-5);

  InferenceOptions multi;
  multi.scales = {0.5, 1.0, 1.5};
  EXPECT_EQ(predict_logits(model, image, multi).shape(), (Shape{24, 32, 4}));
  multi.scales = {0.0};
  EXPECT_THROW(predict_logits(model, image, multi), Error);
  EXPECT_THROW(predict_logits(model, Tensor::zeros({4, 4}, DType::u8), plain), Error);
}

TEST(Inference, FlipTwiceIsIdentity) {
  Generator gen(5);
  Tensor x = Tensor::randn({2, 3, 5, 4}, gen);
  EXPECT_EQ(flip_horizontal(flip_horizontal(x)).to_double_vector(), x.to_double_vector());
  EXPECT_EQ(flip_horizontal(x).to_double_vector()[0], x.to_double_vector()[4 * 4]);
}
