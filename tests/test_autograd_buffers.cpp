// Autograd engine buffer reuse: a gradient nobody else holds becomes the leaf's .grad without a copy and sums into a
// shared input's gradient in place; gradients that are shared (one tensor sent along two edges, a caller's seed)
// are still copied, so no two tensors ever alias.
#include <gtest/gtest.h>

#include "core/autograd.h"
#include "core/ops/elementwise.h"

using namespace atrous;

TEST(AutogradBuffers, OneGradientSentToTwoLeavesIsNotShared) {
  // add's backward returns the same tensor for both inputs.
  Tensor a = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad(true);
  Tensor b = Tensor::from_vector<float>({3, 4}, {2}).set_requires_grad(true);
  add(a, b).backward(Tensor::from_vector<float>({5, 6}, {2}));
  ASSERT_NE(a.grad().data<float>(), b.grad().data<float>());
  Tensor ga = a.grad();
  add_(ga, Tensor::ones({2}));
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{6, 7}));
  EXPECT_EQ(b.grad().to_double_vector(), (std::vector<double>{5, 6}));
}

TEST(AutogradBuffers, CallersSeedIsCopiedNotTaken) {
  Tensor a = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad(true);
  Tensor seed = Tensor::from_vector<float>({7, 8}, {2});
  a.backward(seed);  // the leaf is the root: its gradient is the seed itself
  ASSERT_NE(a.grad().data<float>(), seed.data<float>());
  Tensor ga = a.grad();
  add_(ga, Tensor::ones({2}));
  EXPECT_EQ(seed.to_double_vector(), (std::vector<double>{7, 8}));
}

TEST(AutogradBuffers, SharedInputSumsAllBranches) {
  // x feeds three branches; its gradient is summed from three edges, the first possibly in place.
  Tensor a = Tensor::from_vector<float>({1, -2, 3}, {3}).set_requires_grad(true);
  Tensor x = scale(a, 2.0);
  Tensor y = sum(add(add(mul(x, x), x), scale(x, 3.0)));  // dy/dx = 2x + 4, dy/da = 2 (2x + 4)
  y.backward();
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{16, -8, 32}));
}

TEST(AutogradBuffers, SameTensorTwiceIntoOneOp) {
  // add(x, x): both edges carry one tensor to the same node, which must receive twice the gradient.
  Tensor a = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad(true);
  Tensor x = scale(a, 1.0);
  add(x, x).backward(Tensor::from_vector<float>({1, 3}, {2}));
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{2, 6}));
}

TEST(AutogradBuffers, RetainedGraphAccumulatesAcrossCalls) {
  Tensor a = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad(true);
  Tensor x = scale(a, 1.0);
  Tensor y = sum(add(mul(x, x), x));  // dy/da = 2a + 1
  y.backward(Tensor(), true);
  y.backward();
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{6, 10}));
}

TEST(AutogradBuffers, LeafGradientSurvivesLaterBackward) {
  // The first backward's gradient becomes a.grad; a second graph must add to it, not write into a shared buffer.
  Tensor a = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad(true);
  sum(scale(a, 3.0)).backward();
  Tensor first = a.grad().clone();
  sum(scale(a, 2.0)).backward();
  EXPECT_EQ(first.to_double_vector(), (std::vector<double>{3, 3}));
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{5, 5}));
}
