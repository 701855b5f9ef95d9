// concat_channels: pieces of different widths, and a piece that takes no gradient between two that do.
#include "core/ops/concat.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

Tensor run(const Inputs& pieces) { return concat_channels(pieces); }

// Pieces [n, h, w, width] for each width.
OpCase pieces(std::vector<int64_t> widths, Shape image = {2, 4, 5}) {
  OpCase c{"concat_channels", std::to_string(widths.size()) + " pieces of " + dims(image),
           [widths, image](Generator& gen) {
             Inputs in;
             for (int64_t w : widths) in.push_back(uniform({image[0], image[1], image[2], w}, gen));
             return in;
           },
           run};
  c.f32_tolerance = c.f32_grad_tolerance = 0.0;  // copies are exact
  return c;
}

OpCase frozen_middle() {
  OpCase c = pieces({3, 2, 4});
  c.name = "frozen middle piece";
  c.no_grad_inputs = {1};  // gets no gradient; the others still get theirs
  return c;
}

// Timed: DeepLabv3's ASPP output (five 256-channel branches) at output stride 16 on a 513 crop.
const RegisterOpCases registered({pieces({3, 5, 2}), pieces({3, 1, 4, 2}), frozen_middle()},
                                 {pieces({256, 256, 256, 256, 256}, {1, 33, 33})});

}  // namespace
}  // namespace atrous::op_cases
