// batch_norm in train, eval and frozen modes, with and without affine parameters and running statistics; the
// running statistics are compared after the run (train mode updates them in place).
#include "core/ops/batch_norm.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

enum class Affine { None, WeightOnly, Both };

const char* mode_name(BatchNormMode mode) {
  switch (mode) {
    case BatchNormMode::Train: return "train";
    case BatchNormMode::Eval: return "eval";
    case BatchNormMode::Frozen: return "frozen";
  }
  return "?";
}

// Inputs x, weight, bias, running mean, running var (undefined where absent). x has a mean far from zero, which
// checks the shifted accumulation of the variance.
OpCase batch_norm_case(Shape shape, BatchNormMode mode, Affine affine, bool running_stats) {
  const int64_t C = shape[3];
  BatchNormParams params;
  params.mode = mode;
  OpCase c{"batch_norm",
           dims(shape) + " " + mode_name(mode) + (affine == Affine::None ? " no affine" : "") +
               (affine == Affine::WeightOnly ? " weight only" : "") + (running_stats ? "" : " no running stats"),
           [=](Generator& gen) {
             Inputs in{uniform(shape, gen, 17.0, 23.0), Tensor(), Tensor(), Tensor(), Tensor()};
             if (affine != Affine::None) in[1] = uniform({C}, gen, 0.5, 1.5);
             if (affine == Affine::Both) in[2] = uniform({C}, gen);
             if (running_stats) {
               in[3] = uniform({C}, gen, 19.0, 21.0);
               in[4] = uniform({C}, gen, 5.0, 12.0);
             }
             return in;
           },
           [params](const Inputs& t) { return batch_norm(t[0], t[1], t[2], t[3], t[4], params); }};
  // Long per-channel pixel sums in f32.
  c.f32_tolerance = c.f32_grad_tolerance = 5e-4;
  c.no_grad_inputs = {3, 4};
  if (mode == BatchNormMode::Frozen) c.no_grad_inputs = {1, 2, 3, 4};  // a frozen layer's weight takes no gradient
  return c;
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  // 33 channels cross a 32-channel block edge (the scalar path); 32 take the float4 path in f32.
  for (int64_t C : {33, 32}) {
    for (BatchNormMode mode : {BatchNormMode::Train, BatchNormMode::Eval, BatchNormMode::Frozen}) {
      cases.push_back(batch_norm_case({4, 9, 10, C}, mode, Affine::Both, true));
    }
  }
  cases.push_back(batch_norm_case({2, 3, 4, 7}, BatchNormMode::Train, Affine::None, false));
  cases.push_back(batch_norm_case({2, 3, 4, 3}, BatchNormMode::Train, Affine::None, true));
  cases.push_back(batch_norm_case({1, 3, 5, 3}, BatchNormMode::Train, Affine::WeightOnly, false));
  cases.push_back(batch_norm_case({2, 3, 2, 4}, BatchNormMode::Eval, Affine::None, true));
  return cases;
}

// DeepLabv3's ASPP branches (256 channels at output stride 16 on a 513 crop) and a ResNet stem.
const RegisterOpCases registered(all_cases(),
                                 {batch_norm_case({1, 33, 33, 256}, BatchNormMode::Train, Affine::Both, true),
                                  batch_norm_case({1, 257, 257, 64}, BatchNormMode::Train, Affine::Both, true),
                                  batch_norm_case({1, 257, 257, 64}, BatchNormMode::Eval, Affine::Both, true)});

}  // namespace
}  // namespace atrous::op_cases
