// softmax_cross_entropy: i32 and u8 labels with ignored pixels, class weights, many classes, everything ignored.
#include "core/ops/cross_entropy.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

// Labels in [0, classes) with one pixel in five set to the ignore label 255.
template <typename L>
Tensor labels(const Shape& shape, int64_t classes) {
  std::vector<L> ids(shape_numel(shape));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<L>(i % 5 == 0 ? 255 : (i * 7) % classes);
  return Tensor::from_vector<L>(ids, shape);
}

Tensor plain(const Inputs& t) { return softmax_cross_entropy(t[0], t[1]); }

template <typename L>
OpCase with_labels(const char* name, Shape logits_shape) {
  const int64_t classes = logits_shape[3];
  const Shape label_shape{logits_shape[0], logits_shape[1], logits_shape[2]};
  return OpCase{"softmax_cross_entropy", name,
                [=](Generator& gen) {
                  return Inputs{uniform(logits_shape, gen, -5, 5), labels<L>(label_shape, classes)};
                },
                plain};
}

OpCase weighted() {
  OpCase c = with_labels<int32_t>("class weights", {2, 6, 7, 21});
  const auto unweighted = c.inputs;
  c.inputs = [unweighted](Generator& gen) {
    Inputs in = unweighted(gen);
    in.push_back(uniform({21}, gen, 0.5, 2.0));
    return in;
  };
  c.run = [](const Inputs& t) {
    CrossEntropyParams params;
    params.class_weights = t[2];
    return softmax_cross_entropy(t[0], t[1], params);
  };
  c.no_grad_inputs = {2};  // the weights are constants of the loss
  return c;
}

// Loss 0 and a zero gradient on every device.
OpCase all_ignored() {
  OpCase c = with_labels<int32_t>("all ignored", {2, 6, 7, 21});
  const auto some_ignored = c.inputs;
  c.inputs = [some_ignored](Generator& gen) {
    return Inputs{some_ignored(gen)[0], Tensor::full({2, 6, 7}, 255, DType::i32)};
  };
  return c;
}

std::vector<OpCase> tested() {
  return {with_labels<int32_t>("i32 labels", {2, 6, 7, 21}),
          with_labels<uint8_t>("u8 labels", {2, 6, 7, 21}),
          with_labels<int32_t>("5 classes", {2, 3, 4, 5}),
          with_labels<uint8_t>("70 classes", {1, 2, 3, 70}),
          with_labels<int32_t>("150 classes", {1, 5, 7, 150}),  // beyond 64 classes the forward works row by row
          weighted(),
          all_ignored()};
}

// The DeepLab loss on a 513 crop (VOC's 21 classes) and on a CamVid batch (11 classes at 360x480).
std::vector<OpCase> timed() {
  return {with_labels<uint8_t>("1x513x513x21", {1, 513, 513, 21}),
          with_labels<uint8_t>("4x360x480x11", {4, 360, 480, 11})};
}

const RegisterOpCases registered(tested(), timed());

}  // namespace
}  // namespace atrous::op_cases
