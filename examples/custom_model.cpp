// Defining a model with the functional API: parameters are leaf tensors that require grad, the forward pass is
// ordinary C++ calling atrous ops, and backward() fills every parameter's .grad().
// Here: a DeepLab-LargeFOV-style head (3x3 conv at rate 12, 1x1 conv, 1x1 classifier) on a 41x41 feature map.
#include <cmath>
#include <iostream>

#include "core/atrous.h"

using namespace atrous;

struct LargeFovHead {
  Tensor fc6_w, fc6_b, fc7_w, fc7_b, fc8_w, fc8_b;

  LargeFovHead(int cin, int hidden, int classes, Generator& gen)
      : fc6_w(init({hidden, 3, 3, cin}, gen)), fc6_b(Tensor::zeros({hidden}).set_requires_grad(true)),
        fc7_w(init({hidden, 1, 1, hidden}, gen)), fc7_b(Tensor::zeros({hidden}).set_requires_grad(true)),
        fc8_w(init({classes, 1, 1, hidden}, gen)), fc8_b(Tensor::zeros({classes}).set_requires_grad(true)) {}

  static Tensor init(const Shape& shape, Generator& gen) {
    Tensor w = Tensor::randn(shape, gen);
    const double fan_in = static_cast<double>(shape[1] * shape[2] * shape[3]);
    return scale(w, std::sqrt(2.0 / fan_in)).detach().set_requires_grad(true);
  }

  Tensor forward(const Tensor& features, bool training, Generator& gen) {
    Tensor h = relu(conv2d(features, fc6_w, fc6_b, Conv2dParams().with_dilation(12).with_padding(12)));
    h = dropout(h, 0.5, training, gen);
    h = relu(conv2d(h, fc7_w, fc7_b));
    h = dropout(h, 0.5, training, gen);
    return conv2d(h, fc8_w, fc8_b);
  }
};

int main() {
  Generator gen(42);
  LargeFovHead head(/*cin=*/64, /*hidden=*/128, /*classes=*/21, gen);
  Tensor features = Tensor::randn({1, 41, 41, 64}, gen);  // a pool5-like feature map at output stride 8
  Tensor logits = head.forward(features, /*training=*/true, gen);
  std::cout << "logits: " << logits.description() << "\n";

  // Upsample to the 321x321 crop as Caffe's Interp does (align_corners=true) and take a loss against labels.
  Tensor up = resize_bilinear(logits, ResizeParams::to_size(321, 321, /*align_corners=*/true));
  Tensor labels = Tensor::full({1, 321, 321}, 3, DType::i32);
  Tensor loss = softmax_cross_entropy(up, labels);
  loss.backward();
  std::cout << "loss: " << loss.item<float>() << "\n";
  std::cout << "fc6 weight grad: " << head.fc6_w.grad().description() << "\n";
  std::cout << "predicted labels: " << argmax_channels(up).description() << "\n";
  return head.fc6_w.grad().defined() && std::isfinite(loss.item<float>()) ? 0 : 1;
}
