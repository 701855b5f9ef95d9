// dropout in training with a fresh generator per run, so every run (each device, dtype and finite difference)
// draws the same Philox mask. (tests/test_cuda_ops.cpp checks that CUDA's mask is the CPU's bit for bit.)
#include "core/ops/dropout.h"
#include "op_cases/op_case.h"

namespace atrous::op_cases {
namespace {

OpCase dropout_case(Shape shape, double p) {
  OpCase c{"dropout", dims(shape) + " p " + std::to_string(p).substr(0, 3),
           [shape](Generator& gen) { return Inputs{uniform(shape, gen)}; },
           [p](const Inputs& t) {
             Generator gen(123);
             return dropout(t[0], p, /*training=*/true, gen);
           }};
  c.f32_tolerance = c.f32_grad_tolerance = 1e-6;  // one rounding of x / (1 - p)
  return c;
}

const RegisterOpCases registered({dropout_case({2, 4, 5, 3}, 0.2), dropout_case({2, 4, 5, 3}, 0.5),
                                  dropout_case({3, 17, 19, 8}, 0.1), dropout_case({3, 17, 19, 8}, 1.0)},
                                 {dropout_case({1, 65, 65, 1024}, 0.5)});  // DeepLab-LargeFOV's fc7

}  // namespace
}  // namespace atrous::op_cases
