// resize_bilinear in both align_corners modes: up and down by non-integer factors, DeepLab's x8 logit upsampling,
// the identity, single-pixel outputs, input rows nobody reads (large shrink), an input row read by many output
// rows (3 -> 100), and an output large enough to run on several threads.
#include "core/ops/resize.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

OpCase resize(Shape in, int64_t out_h, int64_t out_w, bool align_corners) {
  const ResizeParams p = ResizeParams::to_size(out_h, out_w, align_corners);
  return OpCase{"resize_bilinear",
                dims(in) + " to " + std::to_string(out_h) + "x" + std::to_string(out_w) +
                    (align_corners ? " align_corners" : ""),
                [in](Generator& gen) { return Inputs{uniform(in, gen)}; },
                [p](const Inputs& t) { return resize_bilinear(t[0], p); }};
}

std::vector<OpCase> all_cases() {
  struct Size {
    Shape in;
    int64_t out_h, out_w;
  };
  const Size sizes[] = {{{2, 5, 7, 3}, 17, 13}, {{1, 17, 13, 4}, 6, 5},  {{1, 9, 9, 2}, 65, 65},
                        {{1, 4, 6, 3}, 4, 6},   {{1, 5, 4, 2}, 1, 1},    {{1, 6, 5, 2}, 11, 3},
                        {{1, 13, 12, 2}, 3, 2}, {{1, 3, 2, 2}, 100, 3}, {{1, 100, 3, 1}, 64, 2},
                        {{2, 6, 5, 4}, 70, 60}};
  std::vector<OpCase> cases;
  for (const Size& s : sizes) {
    for (bool align_corners : {false, true}) cases.push_back(resize(s.in, s.out_h, s.out_w, align_corners));
  }
  return cases;
}

// DeepLab's logits (21 classes, output stride 8) to the 513 crop, and ASPP's image-pooling branch broadcast back.
const RegisterOpCases registered(all_cases(), {resize({1, 65, 65, 21}, 513, 513, false),
                                               resize({1, 1, 1, 256}, 65, 65, false)});

}  // namespace
}  // namespace atrous::op_cases
