// The multi-scale (MSC) wrapper on a tiny model: per-scale sizes, max fusion against a manual composition, gradients
// from every scale, transparent parameter names, mode propagation and argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/atrous.h"
#include "layers/conv2d.h"
#include "models/multi_scale.h"

using namespace atrous;

namespace {

// conv 3x3 stride 2 pad 1 (3 -> 6) - ReLU - conv 1x1 (6 -> classes): logits at stride 2, side floor((n-1)/2)+1.
class TinyNet : public SegmentationModel {
 public:
  TinyNet(uint64_t seed, bool align_corners = true, int classes = 4)
      : SegmentationModel("TinyNet", definition(align_corners, classes)) {
    Generator gen(seed);
    conv1_ =
        register_module("conv1", std::make_shared<Conv2d>(Conv2dOptions(3, 6, 3).with_stride(2).with_padding(1), gen));
    conv2_ = register_module("conv2", std::make_shared<Conv2d>(Conv2dOptions(6, classes, 1).with_lr_mult(10, 20), gen));
  }
  Tensor forward(const Tensor& x) override { return conv2_->forward(relu(conv1_->forward(x))); }
  Conv2d& conv1() { return *conv1_; }

 private:
  static ModelDefinition definition(bool align_corners, int classes) {
    ModelDefinition d;
    d.name = "tiny";
    d.description = "tiny test net";
    d.num_classes = classes;
    d.output_stride = 2;
    d.align_corners = align_corners;
    return d;
  }
  std::shared_ptr<Conv2d> conv1_, conv2_;
};

// A model keeping a parameter outside any child module, which MultiScale cannot share.
class DirectParamNet : public SegmentationModel {
 public:
  DirectParamNet() : SegmentationModel("DirectParamNet", ModelDefinition{}) {
    register_parameter("scale", Tensor::ones({1}));
  }
  Tensor forward(const Tensor& x) override { return x; }
};

Tensor input(int64_t n, int64_t h, int64_t w, uint64_t seed) {
  Generator gen(seed);
  return Tensor::randn({n, h, w, 3}, gen);
}

std::vector<std::string> names(const Module& m) {
  std::vector<std::string> out;
  for (const NamedTensor& p : m.named_parameters()) out.push_back(p.name);
  return out;
}

// max(a, b, c) element by element, computed here without the maximum op.
std::vector<double> max3(const Tensor& a, const Tensor& b, const Tensor& c) {
  auto va = a.to_double_vector(), vb = b.to_double_vector(), vc = c.to_double_vector();
  std::vector<double> out(va.size());
  for (size_t i = 0; i < va.size(); ++i) out[i] = std::max(va[i], std::max(vb[i], vc[i]));
  return out;
}

}  // namespace

TEST(MultiScale, PerScaleSizesAndDefinition) {
  auto tiny = std::make_shared<TinyNet>(1);
  MultiScale msc(tiny);
  EXPECT_EQ(msc.definition().name, "tiny-msc");
  EXPECT_NE(msc.definition().description.find("scales {1, 0.75, 0.5}"), std::string::npos)
      << msc.definition().description;
  EXPECT_EQ(msc.num_classes(), 4);
  EXPECT_EQ(msc.output_stride(), 2);
  // align_corners: n -> floor((n-1)s)+1, Caffe's shrink/zoom sizes (321 -> 241, 161).
  EXPECT_EQ(msc.scaled_size(321, 0.75), 241);
  EXPECT_EQ(msc.scaled_size(321, 0.5), 161);
  EXPECT_EQ(msc.scaled_size(17, 0.75), 13);
  EXPECT_EQ(msc.scaled_size(17, 1.0), 17);
  EXPECT_EQ(msc.scaled_size(2, 0.25), 1);

  const std::vector<Tensor> outs = msc.forward_all_scales(input(2, 17, 15, 2));
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_EQ(outs[0].shape(), (Shape{2, 9, 8, 4}));  // 17x15
  EXPECT_EQ(outs[1].shape(), (Shape{2, 7, 6, 4}));  // 13x11
  EXPECT_EQ(outs[2].shape(), (Shape{2, 5, 4, 4}));  // 9x8
  EXPECT_EQ(outs[3].shape(), (Shape{2, 9, 8, 4}));  // fused at the scale-1 size

  // Without align_corners the sizes are floor(n s).
  MultiScale half_pixel(std::make_shared<TinyNet>(1, false), MultiScaleOptions{{1.0, 0.75, 0.5}, "tiny-hp-msc"});
  EXPECT_EQ(half_pixel.definition().name, "tiny-hp-msc");
  EXPECT_EQ(half_pixel.scaled_size(17, 0.75), 12);
  EXPECT_EQ(half_pixel.scaled_size(17, 0.5), 8);
}

TEST(MultiScale, FusedIsTheMaxOfResizedScoreMaps) {
  for (bool align : {true, false}) {
    SCOPED_TRACE(align);
    auto tiny = std::make_shared<TinyNet>(3, align);
    MultiScale msc(tiny);
    const Tensor x = input(2, 17, 15, 4);
    const std::vector<Tensor> outs = msc.forward_all_scales(x);

    // The same computation by hand: resize the input, run the shared model, resize the scores back, take the max.
    const int64_t h75 = msc.scaled_size(17, 0.75), w75 = msc.scaled_size(15, 0.75);
    const int64_t h50 = msc.scaled_size(17, 0.5), w50 = msc.scaled_size(15, 0.5);
    const Tensor s100 = tiny->forward(x);
    const Tensor s75 = tiny->forward(resize_bilinear(x, ResizeParams::to_size(h75, w75, align)));
    const Tensor s50 = tiny->forward(resize_bilinear(x, ResizeParams::to_size(h50, w50, align)));
    EXPECT_EQ(outs[0].to_double_vector(), s100.to_double_vector());
    EXPECT_EQ(outs[1].to_double_vector(), s75.to_double_vector());
    EXPECT_EQ(outs[2].to_double_vector(), s50.to_double_vector());
    const auto back = [&](const Tensor& s) { return resize_bilinear(s, ResizeParams::to_size(9, 8, align)); };
    const std::vector<double> expected = max3(s100, back(s75), back(s50));
    EXPECT_EQ(outs[3].to_double_vector(), expected);
    EXPECT_EQ(msc.forward(x).to_double_vector(), expected);

    // Each scale wins somewhere, so the fusion really draws on all three.
    const auto a = s100.to_double_vector(), b = back(s75).to_double_vector(), c = back(s50).to_double_vector();
    int wins[3] = {0, 0, 0};
    for (size_t i = 0; i < expected.size(); ++i) {
      if (expected[i] == a[i])
        ++wins[0];
      else if (expected[i] == b[i])
        ++wins[1];
      else
        ++wins[2];
    }
    for (int k = 0; k < 3; ++k) EXPECT_GT(wins[k], 0) << "scale " << k;
  }
}

namespace {
void zero_grads(Module& m) {
  for (NamedTensor& p : m.named_parameters()) p.tensor.zero_grad();
}
bool nonzero(const Tensor& t) {
  for (double v : t.to_double_vector())
    if (v != 0.0) return true;
  return false;
}
}  // namespace

TEST(MultiScale, GradientsReachTheSharedWeightsFromEveryScale) {
  auto tiny = std::make_shared<TinyNet>(5);
  MultiScale msc(tiny);
  const Tensor x = input(1, 17, 17, 6);
  // A loss on each scale's own map (as MSC training does) reaches the one set of weights.
  for (size_t k = 0; k < 4; ++k) {
    SCOPED_TRACE(k);
    zero_grads(msc);
    sum(msc.forward_all_scales(x)[k]).backward();
    for (const NamedTensor& p : msc.named_parameters()) {
      ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
      EXPECT_TRUE(nonzero(p.tensor.grad())) << p.name;
    }
  }

  // Through the fusion, the gradient is the manual composition's (each position routed to the scale that won).
  Generator gen(7);
  const Tensor weights = Tensor::randn({1, 9, 9, 4}, gen);
  zero_grads(msc);
  sum(mul(msc.forward(x), weights)).backward();
  const Tensor fused_grad = tiny->conv1().weight().grad().clone();
  zero_grads(msc);
  const auto resized_scores = [&](double s) {
    const int64_t n = msc.scaled_size(17, s);
    const Tensor scores = tiny->forward(resize_bilinear(x, ResizeParams::to_size(n, n, true)));
    return s == 1.0 ? scores : resize_bilinear(scores, ResizeParams::to_size(9, 9, true));
  };
  const Tensor manual = maximum(maximum(resized_scores(1.0), resized_scores(0.75)), resized_scores(0.5));
  sum(mul(manual, weights)).backward();
  const auto a = fused_grad.to_double_vector(), b = tiny->conv1().weight().grad().to_double_vector();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * (1 + std::abs(b[i]))) << i;
}

TEST(MultiScale, ParameterNamesAreTheWrappedModelsOwn) {
  auto tiny = std::make_shared<TinyNet>(1);
  MultiScale msc(tiny);
  EXPECT_EQ(names(msc), names(*tiny));
  EXPECT_EQ(names(msc), (std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"}));
  EXPECT_EQ(msc.parameter_count(), tiny->parameter_count());
  EXPECT_EQ(msc.param_options("conv2.weight").lr_mult, 10.0);
  ASSERT_EQ(msc.param_groups().size(), tiny->param_groups().size());

  // A single-scale checkpoint loads straight into the MSC model (strict), and the weights are the wrapped model's.
  TinyNet other(9);
  msc.load_state_dict(other.state_dict());
  const Tensor x = input(1, 9, 9, 3);
  EXPECT_EQ(tiny->forward(x).to_double_vector(), other.forward(x).to_double_vector());
  auto state = msc.state_dict();
  EXPECT_EQ(state.size(), 4u);
  EXPECT_TRUE(state.count("conv1.weight"));
}

TEST(MultiScale, TrainAndEvalReachTheWrappedModel) {
  auto tiny = std::make_shared<TinyNet>(1);
  MultiScale msc(tiny);
  msc.eval();
  EXPECT_FALSE(tiny->is_training());
  EXPECT_FALSE(tiny->conv1().is_training());
  msc.train();
  EXPECT_TRUE(tiny->is_training());
  EXPECT_TRUE(tiny->conv1().is_training());
}

TEST(MultiScale, SingleScaleIsTheWrappedModel) {
  auto tiny = std::make_shared<TinyNet>(2);
  MultiScale msc(tiny, MultiScaleOptions{{1.0}, ""});
  const Tensor x = input(1, 11, 7, 1);
  const auto outs = msc.forward_all_scales(x);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[1].to_double_vector(), tiny->forward(x).to_double_vector());
}

TEST(MultiScale, BadArgumentsAreErrors) {
  auto tiny = std::make_shared<TinyNet>(1);
  EXPECT_THROW(MultiScale(nullptr), Error);
  EXPECT_THROW(MultiScale(tiny, MultiScaleOptions{{}, ""}), Error);
  EXPECT_THROW(MultiScale(tiny, MultiScaleOptions{{0.75, 1.0}, ""}), Error);  // the first scale sets the size
  EXPECT_THROW(MultiScale(tiny, MultiScaleOptions{{1.0, -0.5}, ""}), Error);
  EXPECT_THROW(MultiScale(tiny, MultiScaleOptions{{1.0, std::nan("")}, ""}), Error);
  EXPECT_THROW(MultiScale(std::make_shared<DirectParamNet>()), Error);
  MultiScale msc(tiny);
  EXPECT_THROW(msc.forward(Tensor::zeros({9, 9, 3})), Error);
  EXPECT_THROW(msc.forward(Tensor::zeros({1, 9, 9, 5})), Error);  // the wrapped model's own check
  EXPECT_THROW(msc.set_output_stride(4), Error);                  // TinyNet's stride is fixed
  EXPECT_NO_THROW(msc.set_output_stride(2));
}
