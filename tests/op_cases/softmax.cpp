// softmax and log_softmax over the last axis: one class, fewer and more classes than a warp has lanes, other ranks.
#include "core/ops/softmax.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

std::vector<OpCase> both(Shape shape, double range) {
  auto inputs = [shape, range](Generator& gen) { return Inputs{uniform(shape, gen, -range, range)}; };
  return {OpCase{"softmax", dims(shape), inputs, [](const Inputs& t) { return softmax(t[0]); }},
          OpCase{"log_softmax", dims(shape), inputs, [](const Inputs& t) { return log_softmax(t[0]); }}};
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  for (int64_t classes : {1, 21, 45}) {
    for (OpCase& c : both({2, 4, 5, classes}, 8.0)) cases.push_back(c);
  }
  for (const Shape& s : {Shape{7}, Shape{4, 6}, Shape{2, 70}}) {
    for (OpCase& c : both(s, 1.0)) cases.push_back(c);
  }
  return cases;
}

// Per-pixel class probabilities of DeepLab's upsampled logits (21 classes, 513 crop).
const RegisterOpCases registered(all_cases(), both({1, 513, 513, 21}, 8.0));

}  // namespace
}  // namespace atrous::op_cases
