// resize_nearest on label maps (i32 and u8 [N,H,W], compared exactly) and on float maps [N,H,W,C], up and down, in
// both align_corners conventions. Not differentiable. Timed on a VOC batch's labels brought to the logits' size.
#include "core/ops/resize_nearest.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

// Labels 0..20 and the ignore label 255, in a pattern that shows which pixel was copied.
template <typename L>
Tensor labels(const Shape& shape) {
  std::vector<L> ids(shape_numel(shape));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<L>(i % 23 == 0 ? 255 : (i * 7) % 21);
  return Tensor::from_vector<L>(ids, shape);
}

OpCase nearest(const std::string& what, std::function<Tensor(Generator&)> input, int64_t out_h, int64_t out_w,
               bool align_corners) {
  const std::string size = std::to_string(out_h) + "x" + std::to_string(out_w);
  OpCase c{"resize_nearest", what + " to " + size + (align_corners ? " align_corners" : ""),
           [input](Generator& gen) { return Inputs{input(gen)}; },
           [=](const Inputs& t) { return resize_nearest(t[0], out_h, out_w, align_corners); }};
  c.differentiable = false;
  c.f32_tolerance = 0.0;  // copies
  return c;
}

std::vector<OpCase> tested() {
  const auto i32_labels = [](Generator&) { return labels<int32_t>({2, 9, 7}); };
  const auto u8_labels = [](Generator&) { return labels<uint8_t>({1, 17, 13}); };
  const auto u8_small = [](Generator&) { return labels<uint8_t>({1, 4, 4}); };
  const auto f32_map = [](Generator& gen) { return uniform({1, 6, 5, 3}, gen); };
  std::vector<OpCase> cases;
  for (bool align_corners : {false, true}) {
    cases.push_back(nearest("i32 2x9x7", i32_labels, 17, 13, align_corners));
    cases.push_back(nearest("u8 1x17x13", u8_labels, 5, 4, align_corners));
    cases.push_back(nearest("u8 1x4x4", u8_small, 1, 1, align_corners));
    cases.push_back(nearest("f32 1x6x5x3", f32_map, 11, 9, align_corners));
  }
  return cases;
}

// A batch of VOC labels (513 crops) brought to DeepLab's stride-8 logits, as the loss does at output resolution.
const RegisterOpCases registered(tested(), {nearest("u8 10x513x513", [](Generator&) {
                                              return labels<uint8_t>({10, 513, 513});
                                            }, 65, 65, true)});

}  // namespace
}  // namespace atrous::op_cases
