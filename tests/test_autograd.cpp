// Autograd engine: graph shapes, accumulation, no-grad mode, freed graphs.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "support/gradcheck.h"

using namespace atrous;
using atrous::testing::expect_gradients_match;
using atrous::testing::random_input;

TEST(Autograd, LeafAndNonLeaf) {
  Tensor a = Tensor::full({3}, 2.0).set_requires_grad(true);
  Tensor b = Tensor::full({3}, 3.0);
  Tensor c = mul(a, b);
  EXPECT_TRUE(a.is_leaf());
  EXPECT_FALSE(c.is_leaf());
  EXPECT_TRUE(c.requires_grad());
  EXPECT_FALSE(b.requires_grad());
  ASSERT_NE(c.grad_fn(), nullptr);
  EXPECT_EQ(c.grad_fn()->name(), "mul");
  ASSERT_EQ(c.grad_fn()->next().size(), 2u);
  EXPECT_NE(c.grad_fn()->next()[0], nullptr);
  EXPECT_EQ(c.grad_fn()->next()[1], nullptr);  // b needs no gradient
}

TEST(Autograd, ChainRuleAndSharedInput) {
  // y = sum(a * a + a) -> dy/da = 2a + 1; a is used three times.
  Tensor a = Tensor::from_vector<float>({1, -2, 3}, {3}).set_requires_grad(true);
  Tensor y = sum(add(mul(a, a), a));
  y.backward();
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{3, -3, 7}));
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor a = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad(true);
  sum(scale(a, 3.0)).backward();
  sum(scale(a, 3.0)).backward();
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{6, 6}));
  a.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor a = Tensor::ones({2}).set_requires_grad(true);
  {
    NoGradGuard guard;
    Tensor b = scale(a, 2.0);
    EXPECT_FALSE(b.requires_grad());
    EXPECT_EQ(b.grad_fn(), nullptr);
  }
  EXPECT_TRUE(scale(a, 2.0).requires_grad());
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor a = Tensor::ones({2}).set_requires_grad(true);
  Tensor y = sum(mul(a, a));
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
}

TEST(Autograd, RetainGraphAllowsSecondBackward) {
  Tensor a = Tensor::ones({2}).set_requires_grad(true);
  Tensor y = sum(mul(a, a));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{4, 4}));
}

TEST(Autograd, SavedTensorsAreFreedAfterBackward) {
  Tensor a = Tensor::ones({1000}).set_requires_grad(true);
  std::weak_ptr<Storage> saved;
  Tensor y;
  {
    Tensor h = relu(scale(a, 2.0));  // relu saves its output
    saved = h.impl()->storage;
    y = sum(h);
  }
  EXPECT_FALSE(saved.expired());  // still held by the graph
  y.backward();
  EXPECT_TRUE(saved.expired());
}

TEST(Autograd, BranchWithoutGradientDoesNotBlockOthers) {
  // b's branch contributes no gradient to a; the engine must still reach a through the other branch.
  Tensor a = Tensor::ones({2}).set_requires_grad(true);
  Tensor h = scale(a, 2.0);
  Tensor y = sum(add(h, mul(h, Tensor::zeros({2}))));
  y.backward();
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{2, 2}));
}

TEST(Autograd, LeafGradientHookSeesEachLeafOnceWithItsCompleteGradient) {
  // y = sum(a * b) + sum(a * a): a is reached by three paths, b by one, c (requires grad) by none.
  Tensor a = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad(true);
  Tensor b = Tensor::from_vector<float>({3, 4}, {2}).set_requires_grad(true);
  Tensor c = Tensor::from_vector<float>({5, 6}, {2}).set_requires_grad(true);
  Tensor y = add(sum(mul(a, b)), sum(mul(a, a)));
  std::vector<const TensorImpl*> seen;
  std::vector<std::vector<double>> grad_when_seen;
  {
    ScopedLeafGradientHook hook([&](const TensorImpl& leaf) {
      seen.push_back(&leaf);
      grad_when_seen.push_back(Tensor(leaf.grad).to_double_vector());
    });
    y.backward();
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), a.impl().get()), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), b.impl().get()), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), c.impl().get()), 0);
  const size_t ia = seen[0] == a.impl().get() ? 0 : 1;
  EXPECT_EQ(grad_when_seen[ia], (std::vector<double>{5, 8}));  // b + 2a: every path already summed
  EXPECT_EQ(grad_when_seen[1 - ia], (std::vector<double>{1, 2}));
  // Out of scope: no longer called.
  seen.clear();
  sum(mul(a, b)).backward();
  EXPECT_TRUE(seen.empty());
}

TEST(Autograd, BackwardNeedsScalarOrGradient) {
  Tensor a = Tensor::ones({2}).set_requires_grad(true);
  Tensor b = scale(a, 2.0);
  EXPECT_THROW(b.backward(), Error);
  EXPECT_THROW(b.backward(Tensor::ones({3})), Error);
  b.backward(Tensor::ones({2}));
  EXPECT_EQ(a.grad().to_double_vector(), (std::vector<double>{2, 2}));
  EXPECT_THROW(Tensor::ones({2}).backward(), Error);  // nothing requires grad
}

TEST(Autograd, SetRequiresGradOnlyOnFloatingLeaves) {
  Tensor a = Tensor::ones({2}).set_requires_grad(true);
  Tensor b = scale(a, 2.0);
  EXPECT_THROW(b.set_requires_grad(false), Error);
  EXPECT_THROW(Tensor::zeros({2}, DType::i32).set_requires_grad(true), Error);
}

TEST(GradCheck, ElementwiseOps) {
  Tensor a = random_input({2, 3, 5, 4}, 1), b = random_input({2, 3, 5, 4}, 2);
  expect_gradients_match([](const std::vector<Tensor>& x) { return add(x[0], x[1]); }, {a, b});
  expect_gradients_match([](const std::vector<Tensor>& x) { return sub(x[0], x[1]); }, {a, b});
  expect_gradients_match([](const std::vector<Tensor>& x) { return mul(x[0], x[1]); }, {a, b});
  expect_gradients_match([](const std::vector<Tensor>& x) { return scale(x[0], -2.5); }, {a});
  expect_gradients_match([](const std::vector<Tensor>& x) { return sum(x[0]); }, {a});
  expect_gradients_match([](const std::vector<Tensor>& x) { return mean(x[0]); }, {a});
  expect_gradients_match([](const std::vector<Tensor>& x) { return relu(x[0]); }, {a});
  expect_gradients_match([](const std::vector<Tensor>& x) { return maximum(x[0], x[1]); }, {a, b});
}

TEST(GradCheck, Views) {
  Tensor a = random_input({2, 3, 4, 5}, 3);
  expect_gradients_match([](const std::vector<Tensor>& x) { return x[0].reshape({6, -1}); }, {a});
  expect_gradients_match([](const std::vector<Tensor>& x) { return x[0].permute({0, 3, 1, 2}); }, {a});
  expect_gradients_match([](const std::vector<Tensor>& x) { return mul(x[0].slice(3, 1, 4), x[0].slice(3, 2, 5)); },
                         {a});
}

TEST(ElementwiseChecks, BadArgumentsThrow) {
  Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({3, 2});
  EXPECT_THROW(add(a, b), Error);
  EXPECT_THROW(add(a, Tensor::ones({2, 3}, DType::f64)), Error);
  EXPECT_THROW(add(a, Tensor()), Error);
  EXPECT_THROW(relu(Tensor::ones({2}, DType::i32)), Error);
  EXPECT_THROW(mean(Tensor::ones({0})), Error);
  try {
    mul(a, b);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mul"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[2,3]"), std::string::npos);
  }
}
