// The VGG-16 DeepLab family: parameter counts against the papers (v2 Table 1), torchvision-compatible names, output
// sizes (321 -> 41), ASPP summing, DeepLab-MSc features, a training step, and the registered MSC models.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/atrous.h"
#include "models/multi_scale.h"
#include "models/registry.h"
#include "models/vgg_deeplab.h"
#include "solvers/sgd.h"

using namespace atrous;

namespace {

// (Cin, Cout) of conv1_1 .. conv5_3.
const std::vector<std::pair<int64_t, int64_t>> kVggConvs = {{3, 64},    {64, 64},   {64, 128},  {128, 128}, {128, 256},
                                                            {256, 256}, {256, 256}, {256, 512}, {512, 512}, {512, 512},
                                                            {512, 512}, {512, 512}, {512, 512}};
const std::vector<int> kTorchvisionConvIndices = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};

int64_t vgg_conv_params() {
  int64_t n = 0;
  for (const auto& [cin, cout] : kVggConvs) n += 9 * cin * cout + cout;
  return n;
}

// fc6 (k x k, 512 -> width) + fc7 (width -> width) + fc8 ((width + extra) -> classes), all with biases.
int64_t head_params(int64_t k, int64_t width, int64_t classes, int64_t extra = 0) {
  return k * k * 512 * width + width + width * width + width + (width + extra) * classes + classes;
}

double millions_rounded(int64_t n) { return std::round(n / 1e5) / 10.0; }

Tensor image(int64_t n, int64_t h, int64_t w, uint64_t seed) {
  Generator gen(seed);
  return Tensor::randn({n, h, w, 3}, gen) * 50.0;  // about the spread of mean-subtracted 0..255 pixels
}

std::vector<std::string> names(const Module& m) {
  std::vector<std::string> out;
  for (const NamedTensor& p : m.named_parameters()) out.push_back(p.name);
  return out;
}

Tensor param(const Module& m, const std::string& name) {
  for (const NamedTensor& p : m.named_parameters())
    if (p.name == name) return p.tensor;
  ADD_FAILURE() << "no parameter " << name;
  return Tensor();
}

void expect_finite(const Tensor& t) {
  for (double v : t.to_double_vector()) ASSERT_TRUE(std::isfinite(v));
}

void expect_caffe_definition(const SegmentationModel& m, const std::string& name, const std::string& fc6) {
  const ModelDefinition& d = m.definition();
  EXPECT_EQ(d.name, name);
  EXPECT_EQ(d.output_stride, 8);
  EXPECT_TRUE(d.align_corners);
  EXPECT_TRUE(d.preprocessing.bgr);
  EXPECT_EQ(d.preprocessing.input_scale, 1.0);
  EXPECT_FLOAT_EQ(d.preprocessing.mean[0], 104.008f);
  EXPECT_NE(d.description.find(fc6), std::string::npos) << d.description;
}

// Whether any element is non-zero, after checking every element is finite (f32; raw loops: these tensors are big).
bool finite_and_nonzero(const Tensor& t_in, const std::string& what) {
  const Tensor t = t_in.contiguous();
  const float* p = t.data<float>();
  bool nonzero = false;
  for (int64_t i = 0; i < t.numel(); ++i) {
    EXPECT_TRUE(std::isfinite(p[i])) << what << " element " << i;
    if (!std::isfinite(p[i])) return false;
    nonzero |= p[i] != 0.0f;
  }
  return nonzero;
}

bool differs(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const float *pa = a.data<float>(), *pb = b.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i)
    if (pa[i] != pb[i]) return true;
  return false;
}

// The standard deviation of a tensor's values.
double stddev(const Tensor& t) {
  double s = 0, s2 = 0;
  const auto v = t.to_double_vector();
  for (double x : v) s += x, s2 += x * x;
  const double mean = s / v.size();
  return std::sqrt(s2 / v.size() - mean * mean);
}

}  // namespace

TEST(VggBackbone, TorchvisionNamesShapesAndOutputSize) {
  Generator gen(1);
  Vgg16Features features(gen);
  std::vector<std::string> expected;
  for (int i : kTorchvisionConvIndices) {
    expected.push_back(std::to_string(i) + ".weight");
    expected.push_back(std::to_string(i) + ".bias");
  }
  EXPECT_EQ(names(features), expected);
  for (size_t c = 0; c < kVggConvs.size(); ++c) {
    const Tensor w = param(features, std::to_string(kTorchvisionConvIndices[c]) + ".weight");
    EXPECT_EQ(w.shape(), (Shape{kVggConvs[c].second, 3, 3, kVggConvs[c].first}));
  }
  EXPECT_EQ(features.parameter_count(), vgg_conv_params());
  EXPECT_EQ(features.parameter_count(), 14714688);  // torchvision vgg16().features

  // He initialisation: std sqrt(2 / fan_in), zero bias.
  EXPECT_NEAR(stddev(param(features, "28.weight")), std::sqrt(2.0 / (9 * 512)), 0.002);
  for (double b : param(features, "28.bias").to_double_vector()) ASSERT_EQ(b, 0.0);

  // Output stride 8 with Caffe's ceil-mode pools: ceil((n-1)/8)+1.
  EXPECT_EQ(Vgg16Features::output_size(321), 41);
  EXPECT_EQ(Vgg16Features::output_size(513), 65);
  for (int64_t n = 9; n <= 140; ++n) EXPECT_EQ(Vgg16Features::output_size(n), (n - 1 + 7) / 8 + 1) << n;

  features.eval();
  const VggPools pools = features.forward_pools(image(1, 41, 35, 2));
  const std::vector<Shape> shapes = {{1, 21, 18, 64}, {1, 11, 10, 128}, {1, 6, 6, 256}, {1, 6, 6, 512}, {1, 6, 6, 512}};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pools.pool[i].shape(), shapes[i]) << "pool" << i + 1;
}

TEST(VggDeepLab, LargeFovMatchesThePaperAndGives41x41At321) {
  auto model = create_model("deeplab-v1-largefov");
  expect_caffe_definition(*model, "deeplab-v1-largefov", "fc6 3x3 rate 12 pad 12 (1024)");
  EXPECT_EQ(model->parameter_count(), vgg_conv_params() + head_params(3, 1024, 21));
  EXPECT_EQ(millions_rounded(model->parameter_count()), 20.5);

  std::vector<std::string> expected;
  for (int i : kTorchvisionConvIndices) {
    expected.push_back("features." + std::to_string(i) + ".weight");
    expected.push_back("features." + std::to_string(i) + ".bias");
  }
  for (const char* fc : {"fc6", "fc7", "fc8"}) {
    expected.push_back(std::string(fc) + ".weight");
    expected.push_back(std::string(fc) + ".bias");
  }
  EXPECT_EQ(names(*model), expected);
  EXPECT_EQ(param(*model, "fc6.weight").shape(), (Shape{1024, 3, 3, 512}));
  EXPECT_EQ(param(*model, "fc8.weight").shape(), (Shape{21, 1, 1, 1024}));

  // The classifier at 10x lr (bias 20x, no decay), as the papers; the rest at 1x (biases 2x, no decay).
  EXPECT_EQ(model->param_options("fc8.weight").lr_mult, 10.0);
  EXPECT_EQ(model->param_options("fc8.bias").lr_mult, 20.0);
  EXPECT_EQ(model->param_options("fc8.bias").decay_mult, 0.0);
  EXPECT_EQ(model->param_options("fc6.weight").lr_mult, 1.0);
  EXPECT_EQ(model->param_options("features.0.bias").lr_mult, 2.0);
  // fc8 ~ N(0, 0.01^2) with zero bias.
  EXPECT_NEAR(stddev(param(*model, "fc8.weight")), 0.01, 0.001);
  for (double b : param(*model, "fc8.bias").to_double_vector()) ASSERT_EQ(b, 0.0);

  model->eval();
  const Tensor logits = model->forward(image(1, 321, 321, 3));
  EXPECT_EQ(logits.shape(), (Shape{1, 41, 41, 21}));
  expect_finite(logits);
}

TEST(VggDeepLab, V1HeadVariantsMatchTable1) {
  struct Case {
    const char* name;
    int kernel;
    const char* fc6;
    double millions;
  };
  // The 4096-wide heads are big (the 7x7 one is 134M parameters): one small forward each.
  for (const Case& c : {Case{"deeplab-v1-7x7r4", 7, "fc6 7x7 rate 4 pad 12 (4096)", 134.3},
                        Case{"deeplab-v1-4x4r4", 4, "fc6 4x4 rate 4 pad 6 (4096)", 65.1},
                        Case{"deeplab-v1-4x4r8", 4, "fc6 4x4 rate 8 pad 12 (4096)", 65.1}}) {
    SCOPED_TRACE(c.name);
    auto model = create_model(c.name);
    expect_caffe_definition(*model, c.name, c.fc6);
    EXPECT_EQ(model->parameter_count(), vgg_conv_params() + head_params(c.kernel, 4096, 21));
    EXPECT_EQ(millions_rounded(model->parameter_count()), c.millions);
    EXPECT_EQ(param(*model, "fc6.weight").shape(), (Shape{4096, c.kernel, c.kernel, 512}));
    model->eval();
    // Even 4x4 kernels keep the size: 4x4 rate r spans 3r+1 pixels, an odd number, padded by 3r/2 on each side.
    const Tensor logits = model->forward(image(1, 65, 57, 4));
    EXPECT_EQ(logits.shape(), (Shape{1, 9, 8, 21}));
    expect_finite(logits);
  }
}

TEST(VggDeepLab, AsppSumsFourBranchesAtTheirRates) {
  for (const auto& [name, rates] :
       {std::pair<std::string, std::vector<int>>{"deeplab-v2-vgg16-aspp-s", {2, 4, 8, 12}},
        std::pair<std::string, std::vector<int>>{"deeplab-v2-vgg16-aspp-l", {6, 12, 18, 24}}}) {
    SCOPED_TRACE(name);
    ModelOptions options;
    options.num_classes = 5;
    auto model = create_model(name, options);
    expect_caffe_definition(*model, name, "fc6 3x3 rates {" + std::to_string(rates[0]));
    EXPECT_EQ(model->parameter_count(), vgg_conv_params() + 4 * head_params(3, 1024, 5));
    const std::string summary = model->summary();
    for (int r : rates) EXPECT_NE(summary.find("rate " + std::to_string(r) + " "), std::string::npos) << summary;
    EXPECT_EQ(summary.find("pool5a"), std::string::npos) << "no average pool after pool5 in ASPP";

    std::vector<std::string> expected = names(*model);
    expected.erase(expected.begin(), expected.begin() + 26);  // the features
    std::vector<std::string> head;
    for (int b = 0; b < 4; ++b)
      for (const char* fc : {"fc6", "fc7", "fc8"})
        for (const char* p : {"weight", "bias"}) head.push_back("aspp." + std::to_string(b) + "." + fc + "." + p);
    EXPECT_EQ(expected, head);
    EXPECT_EQ(model->param_options("aspp.3.fc8.weight").lr_mult, 10.0);

    model->eval();
    const Tensor x = image(1, 33, 33, 5);
    const Tensor all = model->forward(x);
    EXPECT_EQ(all.shape(), (Shape{1, 5, 5, 5}));
    if (name != "deeplab-v2-vgg16-aspp-l") continue;
    // Scores are the sum of the branches': keep one branch's classifier at a time and add the results up.
    std::vector<Tensor> saved;
    for (int b = 0; b < 4; ++b) saved.push_back(param(*model, "aspp." + std::to_string(b) + ".fc8.weight").clone());
    std::vector<double> sum(all.numel(), 0.0);
    for (int keep = 0; keep < 4; ++keep) {
      for (int b = 0; b < 4; ++b) {
        Tensor w = param(*model, "aspp." + std::to_string(b) + ".fc8.weight").detach();
        if (b == keep)
          w.copy_(saved[b]);
        else
          w.zero_();
      }
      const auto part = model->forward(x).to_double_vector();
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
    }
    const auto expected_all = all.to_double_vector();
    for (size_t i = 0; i < sum.size(); ++i) ASSERT_NEAR(sum[i], expected_all[i], 1e-4 * (1 + std::abs(sum[i]))) << i;
  }
}

TEST(VggDeepLab, MscAddsFiveMlpsBeforeTheClassifier) {
  ModelOptions options;
  options.num_classes = 3;
  auto model = create_model("deeplab-v1-msc-largefov", options);
  expect_caffe_definition(*model, "deeplab-v1-msc-largefov", "fc6 3x3 rate 12 pad 12 (1024)");
  int64_t mlps = 0;
  const std::vector<std::pair<std::string, int64_t>> taps = {
      {"ms_input", 3}, {"ms_pool1", 64}, {"ms_pool2", 128}, {"ms_pool3", 256}, {"ms_pool4", 512}};
  for (const auto& [tap, cin] : taps) {
    EXPECT_EQ(param(*model, tap + ".conv1.weight").shape(), (Shape{128, 3, 3, cin}));
    EXPECT_EQ(param(*model, tap + ".conv2.weight").shape(), (Shape{128, 1, 1, 128}));
    mlps += 9 * cin * 128 + 128 + 128 * 128 + 128;
  }
  EXPECT_EQ(param(*model, "fc8.weight").shape(), (Shape{3, 1, 1, 1024 + 640}));
  EXPECT_EQ(model->parameter_count(), vgg_conv_params() + head_params(3, 1024, 3, 640) + mlps);

  model->eval();
  // 65 = 8*8+1: the strided MLP maps land exactly on the 9x9 grid; 60 takes the resize path for the short maps.
  for (int64_t side : {65, 60}) {
    const Tensor logits = model->forward(image(1, side, side, 6));
    EXPECT_EQ(logits.shape(), (Shape{1, 9, 9, 3})) << side;
    expect_finite(logits);
  }
  // The MLP features reach the scores: silencing their classifier columns changes the output.
  const Tensor x = image(1, 41, 41, 7);
  const auto before = model->forward(x).to_double_vector();
  Tensor w = param(*model, "fc8.weight").detach();
  w.slice(3, 1024, 1664).zero_();
  EXPECT_NE(model->forward(x).to_double_vector(), before);
}

TEST(VggDeepLab, TrainingStepGivesFiniteLossAndUpdatesEveryLayer) {
  for (const char* name : {"deeplab-v1-largefov", "deeplab-v2-vgg16-aspp-l", "deeplab-v1-msc-largefov"}) {
    SCOPED_TRACE(name);
    ModelOptions options;
    options.num_classes = 4;
    options.seed = 11;
    auto model = create_model(name, options);
    model->train();
    const Tensor x = image(2, 33, 33, 8);
    Generator gen(9);
    Tensor labels = Tensor::empty({2, 33, 33}, DType::i32);
    int32_t* l = labels.data<int32_t>();
    for (int64_t i = 0; i < labels.numel(); ++i)
      l[i] = i % 17 == 0 ? 255 : static_cast<int32_t>(gen.next_uniform() * 4);

    const Tensor logits = model->forward(x);
    EXPECT_EQ(logits.shape(), (Shape{2, 5, 5, 4}));
    const Tensor full = resize_bilinear(logits, ResizeParams::to_size(33, 33, true));
    const Tensor loss = softmax_cross_entropy(full, labels);
    ASSERT_TRUE(std::isfinite(loss.item_as_double()));
    EXPECT_GT(loss.item_as_double(), 0.0);

    std::map<std::string, Tensor> before;
    for (const NamedTensor& p : model->named_parameters())
      if (p.name.find("bias") == std::string::npos) before[p.name] = p.tensor.clone();
    Sgd sgd(model->param_groups(), SgdOptions{1e-3, 0.9, 0.0, false});  // no decay: only gradients move weights
    loss.backward();
    for (const NamedTensor& p : model->named_parameters()) {
      ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
      EXPECT_TRUE(finite_and_nonzero(p.tensor.grad(), p.name)) << p.name << " got no gradient";
    }
    sgd.step();
    for (const auto& [pname, old] : before) EXPECT_TRUE(differs(param(*model, pname), old)) << pname << " did not move";
  }
}

TEST(VggDeepLab, RegistryHoldsTheFamilyAndChecksOptions) {
  const ModelRegistry& r = model_registry();
  for (const char* name :
       {"deeplab-v1-largefov", "deeplab-v1-7x7r4", "deeplab-v1-4x4r4", "deeplab-v1-4x4r8", "deeplab-v1-msc-largefov",
        "deeplab-v2-vgg16-aspp-s", "deeplab-v2-vgg16-aspp-l", "deeplab-v2-vgg16-largefov-msc",
        "deeplab-v2-vgg16-aspp-s-msc", "deeplab-v2-vgg16-aspp-l-msc"})
    EXPECT_TRUE(r.contains(name)) << name;
  for (const ModelEntry& e : r.entries()) {
    if (e.name.rfind("deeplab-v1-", 0) != 0 && e.name.rfind("deeplab-v2-vgg16-", 0) != 0) continue;
    EXPECT_LE(e.summary.size(), 100u) << e.name << ": one short line for `atrous models`";
    EXPECT_NE(e.summary.find("rate"), std::string::npos) << e.summary;
  }
  EXPECT_THROW(vgg_deeplab_config("deeplab-v1-8x8"), Error);
  VggDeepLabConfig bad = vgg_deeplab_config("deeplab-v1-4x4r4");
  bad.fc6_rates = {3};  // 4x4 at rate 3 spans 10 pixels: no symmetric padding keeps the size
  Generator gen(1);
  EXPECT_THROW(VggDeepLab(bad, gen), Error);
  ModelOptions os16;
  os16.output_stride = 16;
  EXPECT_THROW(create_model("deeplab-v1-largefov", os16), Error);
  auto model = create_model("deeplab-v1-largefov");
  EXPECT_THROW(model->forward(Tensor::zeros({1, 33, 33, 4})), Error);
}

TEST(VggDeepLab, MscModelSharesLargeFovNamesAndFusesThreeScales) {
  ModelOptions options;
  options.num_classes = 3;
  auto msc = create_model("deeplab-v2-vgg16-largefov-msc", options);
  options.seed = 5;
  auto single = create_model("deeplab-v1-largefov", options);
  EXPECT_EQ(msc->definition().name, "deeplab-v2-vgg16-largefov-msc");
  EXPECT_NE(msc->definition().description.find("MSC"), std::string::npos);
  expect_caffe_definition(*msc, "deeplab-v2-vgg16-largefov-msc", "fc6 3x3 rate 12");
  EXPECT_EQ(names(*msc), names(*single));
  msc->load_state_dict(single->state_dict());  // strict: the same names and shapes

  msc->eval();
  single->eval();
  const Tensor x = image(1, 65, 65, 12);
  const std::vector<Tensor> outs = msc->forward_all_scales(x);
  ASSERT_EQ(outs.size(), 4u);
  // 65 -> 49 and 33 at scales 0.75 and 0.5 (floor((n-1)s)+1), giving 9, 7 and 5 score maps.
  EXPECT_EQ(outs[0].shape(), (Shape{1, 9, 9, 3}));
  EXPECT_EQ(outs[1].shape(), (Shape{1, 7, 7, 3}));
  EXPECT_EQ(outs[2].shape(), (Shape{1, 5, 5, 3}));
  EXPECT_EQ(outs[3].shape(), (Shape{1, 9, 9, 3}));
  EXPECT_EQ(outs[0].to_double_vector(), single->forward(x).to_double_vector());
  const auto fused = outs[3].to_double_vector(), s1 = outs[0].to_double_vector();
  for (size_t i = 0; i < fused.size(); ++i) ASSERT_GE(fused[i], s1[i]);
}
