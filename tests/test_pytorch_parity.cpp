// Weights from PyTorch: whole-model forward parity of torchvision deeplabv3_resnet50 and a PyTorch DeepLab-v1
// LargeFOV (deterministic weights, tests/fixtures/make_parity_fixtures.py), export back to PyTorch's names and layout, and
// the import's name mapping, layout detection and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <set>

#include "core/safetensors.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"
#include "layers/sequential.h"
#include "layers/simple_layers.h"
#include "models/deeplab_v3.h"
#include "models/pytorch_weights.h"
#include "models/registry.h"
#include "support/deterministic_weights.h"
#include "support/fixtures.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;

namespace {

std::string parity_file(const std::string& name) { return std::string(ATROUS_FIXTURE_DIR) + "/parity/" + name; }

class PytorchWeightsTest : public ScratchDirTest {};

::testing::AssertionResult same_state(const Module& a, const Module& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  if (sa.size() != sb.size()) return ::testing::AssertionFailure() << sa.size() << " vs " << sb.size() << " tensors";
  for (const auto& [name, t] : sa) {
    auto it = sb.find(name);
    if (it == sb.end()) return ::testing::AssertionFailure() << name << " missing";
    auto r = bitwise_equal(t, it->second);
    if (!r) return r << " (" << name << ")";
  }
  return ::testing::AssertionSuccess();
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_double_vector()) m = std::max(m, std::abs(v));
  return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_double_vector(), y = b.to_double_vector();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

std::shared_ptr<SegmentationModel> make_model(const std::string& name, uint64_t seed) {
  ModelOptions o;
  o.num_classes = 5;  // as the fixtures
  o.seed = seed;
  return create_model(name, o);
}

// ---- whole-model parity ----

struct ParityCase {
  const char* fixture;  // <fixture>_names.txt / _input.npy / _logits.npy
  const char* model;    // registry name
};

class PytorchParity : public PytorchWeightsTest, public ::testing::WithParamInterface<ParityCase> {};

// Import the deterministic PyTorch state dict from a file (names as PyTorch's, convs OIHW), run eval forward, and
// compare the logits at the output stride with PyTorch's (computed in float64 on the same float32 weights).
// Tolerance: |ours - PyTorch| <= 1e-4 * max|logit| + 1e-5 for every logit.
// Then export back: PyTorch's names and OIHW shapes, the very values imported, and a bit-exact re-import.
TEST_P(PytorchParity, ForwardMatchesPytorchAndExportRoundTrips) {
  const ParityCase c = GetParam();
  const DeterministicStateDict spec = read_deterministic_names(parity_file(std::string(c.fixture) + "_names.txt"));
  const std::map<std::string, Tensor> pytorch_state = make_deterministic_state(spec);
  const std::string source = path("pytorch.safetensors");
  save_safetensors(source, pytorch_state);  // no metadata: a bare dump of a torch state dict

  auto model = make_model(c.model, 1);
  const ImportReport report = import_pytorch_weights(source, *model);
  EXPECT_EQ(report.loaded, static_cast<int>(spec.tensors.size()));
  EXPECT_TRUE(report.lines().empty()) << report.lines().front();
  model->eval();

  const Tensor x = load_fixture("parity", std::string(c.fixture) + "_input");
  const Tensor expected = load_fixture("parity", std::string(c.fixture) + "_logits");
  const Tensor logits = model->forward(x);
  const double scale = max_abs(expected), atol = 1e-4 * scale + 1e-5;
  const double err = logits.shape() == expected.shape() ? max_abs_diff(logits, expected) : NAN;
  std::cout << "[ parity ] " << c.model << ": logits " << shape_str(logits.shape()) << ", max|logit| " << scale
            << ", max abs error " << err << " (" << err / scale << " of max|logit|; tolerance " << atol << ")\n";
  EXPECT_TRUE(all_close(std::string(c.model) + " logits vs PyTorch", logits, expected, Tolerance{atol, 0.0}));

  // Export: PyTorch's names, OIHW shapes, and the imported values bit for bit.
  const std::string exported = path("export.safetensors");
  export_pytorch_weights(exported, *model);
  const SafetensorsFile file(exported);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  std::set<std::string> names;
  for (const DeterministicTensor& t : spec.tensors) {
    names.insert(t.name);
    ASSERT_TRUE(file.contains(t.name)) << t.name;
    EXPECT_EQ(file.info(t.name).shape, t.pytorch_shape) << t.name;
    EXPECT_TRUE(bitwise_equal(file.load(t.name), pytorch_state.at(t.name))) << t.name;
  }
  const std::vector<std::string> file_names = file.names();
  EXPECT_EQ(std::set<std::string>(file_names.begin(), file_names.end()), names);

  // Re-import into a differently initialised model: the same state dict, bit for bit (layout found from metadata).
  auto fresh = make_model(c.model, 99);
  EXPECT_EQ(detect_weights_layout(file, *fresh), WeightsLayout::pytorch);
  EXPECT_TRUE(load_weights_any(exported, *fresh).lines().empty());
  EXPECT_TRUE(same_state(*model, *fresh));
}

INSTANTIATE_TEST_SUITE_P(Models, PytorchParity,
                         ::testing::Values(ParityCase{"deeplabv3_resnet50", "deeplabv3_resnet50"},
                                           ParityCase{"largefov", "deeplab-v1-largefov"},
                                           ParityCase{"deeplabv3plus_mobilenetv2", "deeplabv3plus-mobilenetv2"},
                                           ParityCase{"fcn_resnet50", "fcn_resnet50"},
                                           ParityCase{"deeplabv3_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large"},
                                           ParityCase{"lraspp_mobilenet_v3_large", "lraspp_mobilenet_v3_large"}),
                         [](const ::testing::TestParamInfo<ParityCase>& info) {
                           return std::string(info.param.fixture);
                         });

// torchvision's deeplabv3_resnet50 weights imported and run on a CUDA device (a GPU, or the simulator in CI): logits
// match PyTorch's within the same tolerance and the CPU's within 1e-5 of max|logit| (the devices sum in different
// orders). One model is enough here: every op is compared on both devices in test_cuda_ops.cpp, and the simulator
// is slow.
TEST_F(PytorchWeightsTest, TorchvisionDeeplabv3OnCudaMatchesPytorchAndTheCpu) {
  ATROUS_REQUIRE_CUDA();
  const ParityCase c{"deeplabv3_resnet50", "deeplabv3_resnet50"};
  const DeterministicStateDict spec = read_deterministic_names(parity_file(std::string(c.fixture) + "_names.txt"));
  const std::string source = path("pytorch.safetensors");
  save_safetensors(source, make_deterministic_state(spec));
  auto model = make_model(c.model, 1);
  import_pytorch_weights(source, *model);
  model->eval();
  const Tensor x = load_fixture("parity", std::string(c.fixture) + "_input");
  const Tensor expected = load_fixture("parity", std::string(c.fixture) + "_logits");
  const Tensor on_cpu = model->forward(x);
  model->to(Device::cuda(0));
  const Tensor on_gpu = model->forward(x.to(Device::cuda(0)));
  ASSERT_TRUE(on_gpu.device().is_cuda());
  const Tensor logits = on_gpu.to(Device::cpu());
  const double scale = max_abs(expected);
  EXPECT_TRUE(all_close(std::string(c.model) + " CUDA logits vs PyTorch", logits, expected,
                        Tolerance{1e-4 * scale + 1e-5, 0.0}));
  EXPECT_TRUE(all_close(std::string(c.model) + " CUDA logits vs CPU", logits, on_cpu, Tolerance{1e-5 * scale, 0.0}));
}

// ---- a file PyTorch's side wrote ----

// features.0 conv 3x3 dilation 2 (no bias), .1 BN, .2 ReLU, .3 1x1 conv; classifier 1x1 conv (the script's Tiny).
class Tiny : public Module {
 public:
  Tiny() : Module("Tiny") {
    features_ = register_module("features", std::make_shared<Sequential>());
    features_->add(std::make_shared<Conv2d>(Conv2dOptions(3, 8, 3).with_dilation(2).with_padding(2).with_bias(false)));
    features_->add(std::make_shared<BatchNorm2d>(BatchNorm2dOptions(8)));
    features_->add(std::make_shared<ReLU>());
    features_->add(std::make_shared<Conv2d>(Conv2dOptions(8, 6, 1)));
    classifier_ = register_module("classifier", std::make_shared<Conv2d>(Conv2dOptions(6, 4, 1)));
  }
  Tensor forward(const Tensor& x) override { return classifier_->forward(features_->forward(x)); }

 private:
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Conv2d> classifier_;
};

TEST_F(PytorchWeightsTest, FileWrittenOnPytorchsSideLoadsAndComputesTheSame) {
  const std::string tiny = parity_file("tiny_pt.safetensors");
  Tiny model;
  const SafetensorsFile file(tiny);
  EXPECT_TRUE(file.contains("features.1.num_batches_tracked"));  // int64, PyTorch's; we drop it
  EXPECT_EQ(detect_weights_layout(file, model), WeightsLayout::pytorch);
  const ImportReport report = load_weights_any(tiny, model);
  EXPECT_EQ(report.loaded, 9);
  EXPECT_TRUE(report.lines().empty());
  // OIHW [8,3,3,3] -> [8,3,3,3] with the axes moved: element (o, i, h, w) lands at (o, h, w, i).
  const Tensor pt = file.load("features.0.weight");
  const Tensor ours = model.state_dict().at("features.0.weight");
  EXPECT_EQ(ours.contiguous().data<float>()[((1 * 3 + 2) * 3 + 0) * 3 + 1],
            pt.contiguous().data<float>()[((1 * 3 + 1) * 3 + 2) * 3 + 0]);
  model.eval();
  const Tensor logits = model.forward(load_fixture("parity", "tiny_input"));
  EXPECT_TRUE(all_close("tiny logits", logits, load_fixture("parity", "tiny_logits"), Tolerance{1e-5, 1e-5}));
}

// ---- errors name the tensor; nothing changes on failure ----

TEST_F(PytorchWeightsTest, MissingUnexpectedAndMisshapedTensors) {
  const std::map<std::string, Tensor> good = load_safetensors(parity_file("tiny_pt.safetensors"));
  Tiny model;
  const Tensor before = model.state_dict().at("classifier.weight").clone();

  auto missing = good;
  missing.erase("features.3.bias");
  expect_error([&] { load_pytorch_state_dict(model, missing); }, {"missing", "features.3.bias [6]"});
  EXPECT_TRUE(bitwise_equal(model.state_dict().at("classifier.weight"), before));  // planned before any copy
  ImportOptions lenient;
  lenient.strict = false;
  ImportReport r = load_pytorch_state_dict(model, missing, lenient);
  EXPECT_EQ(r.loaded, 8);
  EXPECT_EQ(r.lines(), std::vector<std::string>{"missing: features.3.bias [6]"});

  auto extra = good;
  extra["aux_classifier.0.weight"] = Tensor::zeros({4, 6, 3, 3});
  expect_error([&] { load_pytorch_state_dict(model, extra); }, {"unexpected", "aux_classifier.0.weight"});
  r = load_pytorch_state_dict(model, extra, lenient);
  EXPECT_EQ(r.lines(), std::vector<std::string>{"unexpected: aux_classifier.0.weight"});
  ImportOptions skipping;
  skipping.skip_prefixes = {"aux_classifier."};
  r = load_pytorch_state_dict(model, extra, skipping);
  EXPECT_EQ(r.lines(), std::vector<std::string>{"skipped: aux_classifier.0.weight"});

  // A shape mismatch is an error even when not strict; the message has the PyTorch, converted and model shapes.
  auto misshaped = good;
  misshaped["classifier.weight"] = Tensor::zeros({5, 6, 1, 1});
  for (bool strict : {true, false}) {
    ImportOptions o;
    o.strict = strict;
    expect_error([&] { load_pytorch_state_dict(model, misshaped, o); },
                 {"'classifier.weight'", "[5,6,1,1]", "[5,1,1,6]", "[4,1,1,6]"});
  }
  // The same through a file: the message names the file too.
  const std::string file = path("bad.safetensors");
  save_safetensors(file, misshaped);
  expect_error([&] { import_pytorch_weights(file, model); }, {file, "classifier.weight"});
  save_safetensors(file, missing);
  expect_error([&] { import_pytorch_weights(file, model); }, {file, "features.3.bias"});
}

TEST_F(PytorchWeightsTest, LinearWeightFillsA1x1ConvAndTwoSourcesCannotShareATarget) {
  Sequential model;
  model.add("fc", std::make_shared<Conv2d>(Conv2dOptions(4, 3, 1)));
  std::vector<float> w(12);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  std::map<std::string, Tensor> state = {{"fc.weight", Tensor::from_vector(w, {3, 4})},
                                         {"fc.bias", Tensor::zeros({3})}};
  load_pytorch_state_dict(model, state);
  EXPECT_TRUE(bitwise_equal(model.state_dict().at("fc.weight"), Tensor::from_vector(w, {3, 1, 1, 4})));

  state["old.bias"] = Tensor::zeros({3});
  ImportOptions o;
  o.renames = {{"old.", "fc."}};
  expect_error([&] { load_pytorch_state_dict(model, state, o); }, {"'fc.bias'", "'old.bias'", "both map"});
}

// ---- classification backbones: prefix mapping, skipped classifiers ----

TEST_F(PytorchWeightsTest, TorchvisionResNet50ClassificationWeightsFillTheBackbone) {
  const DeterministicStateDict spec = read_deterministic_names(parity_file("deeplabv3_resnet50_names.txt"));
  const std::map<std::string, Tensor> full = make_deterministic_state(spec);
  std::map<std::string, Tensor> resnet;  // torchvision resnet50's names: the backbone's without "backbone."
  for (const auto& [name, t] : full)
    if (name.rfind("backbone.", 0) == 0) resnet.emplace(name.substr(9), t);
  resnet["fc.weight"] = Tensor::zeros({1000, 2048});
  resnet["fc.bias"] = Tensor::zeros({1000});
  const std::string file = path("resnet50.safetensors");
  save_safetensors(file, resnet);

  auto model = std::dynamic_pointer_cast<DeepLabV3>(make_model("deeplabv3_resnet50", 3));
  ASSERT_TRUE(model);
  const Tensor head_before = model->state_dict().at("classifier.4.weight").clone();
  // Strict: every backbone tensor filled, fc.* skipped, the head not expected.
  const ImportReport r = import_pytorch_weights(file, *model, torchvision_resnet_import_options());
  EXPECT_EQ(r.loaded, static_cast<int>(resnet.size() - 2));
  EXPECT_EQ(r.lines(), (std::vector<std::string>{"skipped: fc.bias", "skipped: fc.weight"}));
  const auto exported = to_pytorch_state_dict(*model);
  for (const auto& [name, t] : full)
    if (name.rfind("backbone.", 0) == 0) {
      EXPECT_TRUE(bitwise_equal(exported.at(name), t)) << name;
    }
  EXPECT_TRUE(bitwise_equal(model->state_dict().at("classifier.4.weight"), head_before));

  // Straight into the ResNet module (its names are torchvision's).
  const ImportReport direct = import_pytorch_weights(file, model->backbone(), torchvision_resnet_import_options(""));
  EXPECT_EQ(direct.loaded, r.loaded);

  // Without the mapping a strict load refuses, naming what does not fit.
  expect_error([&] { import_pytorch_weights(file, *model); }, {"unexpected", "conv1.weight"});
}

TEST_F(PytorchWeightsTest, TorchvisionVgg16FeaturesFillTheLargeFovFeatures) {
  const DeterministicStateDict spec = read_deterministic_names(parity_file("largefov_names.txt"));
  std::map<std::string, Tensor> vgg16;
  for (const auto& [name, t] : make_deterministic_state(spec))
    if (name.rfind("features.", 0) == 0) vgg16.emplace(name, t);
  // torchvision's classifier (Linear 25088 -> 4096 ...): stand-ins, the import skips them by name.
  vgg16["classifier.0.weight"] = Tensor::zeros({8, 16});
  vgg16["classifier.6.bias"] = Tensor::zeros({1000});
  const std::string file = path("vgg16.safetensors");
  save_safetensors(file, vgg16);

  auto model = make_model("deeplab-v1-largefov", 3);
  const Tensor fc6_before = model->state_dict().at("fc6.weight").clone();
  const ImportReport r = import_pytorch_weights(file, *model, torchvision_vgg16_import_options());
  EXPECT_EQ(r.loaded, 26);
  EXPECT_EQ(r.lines(), (std::vector<std::string>{"skipped: classifier.0.weight", "skipped: classifier.6.bias"}));
  const auto exported = to_pytorch_state_dict(*model);
  for (const auto& [name, t] : vgg16)
    if (name.rfind("features.", 0) == 0) {
      EXPECT_TRUE(bitwise_equal(exported.at(name), t)) << name;
    }
  EXPECT_TRUE(bitwise_equal(model->state_dict().at("fc6.weight"), fc6_before));
}

// ---- telling our files from PyTorch's ----

TEST_F(PytorchWeightsTest, LayoutFromMetadataOrFromUnambiguousShapes) {
  Tiny source;
  Generator gen(5);
  for (const auto& [name, t] : source.state_dict()) t.detach().copy_(Tensor::uniform(t.shape(), 0.5, 1.5, gen));

  auto loads_back = [&](const std::string& file, WeightsLayout layout) {
    Tiny target;
    EXPECT_EQ(detect_weights_layout(SafetensorsFile(file), target), layout) << file;
    EXPECT_TRUE(load_weights_any(file, target).lines().empty());
    EXPECT_TRUE(same_state(source, target)) << file;
  };
  save_atrous_weights(path("ours_marked.safetensors"), source);
  loads_back(path("ours_marked.safetensors"), WeightsLayout::atrous);
  export_pytorch_weights(path("pt_marked.safetensors"), source);
  loads_back(path("pt_marked.safetensors"), WeightsLayout::pytorch);
  // Unmarked: features.0.weight [8,3,3,3] fits both ways, but the 1x1 convs [O,1,1,I] vs [O,I,1,1] decide.
  save_safetensors(path("ours_bare.safetensors"), source.state_dict());
  loads_back(path("ours_bare.safetensors"), WeightsLayout::atrous);
  save_safetensors(path("pt_bare.safetensors"), to_pytorch_state_dict(source));
  loads_back(path("pt_bare.safetensors"), WeightsLayout::pytorch);

  // A training checkpoint's model tensors ("model." prefix; optimizer state skipped).
  std::map<std::string, Tensor> checkpoint;
  for (const auto& [name, t] : source.state_dict()) checkpoint["model." + name] = t;
  checkpoint["optimizer.momentum.classifier.weight"] = Tensor::zeros({4, 1, 1, 6});
  save_safetensors(path("ckpt.safetensors"), checkpoint, {{"atrous.format", "checkpoint"}});
  Tiny from_checkpoint;
  EXPECT_EQ(load_weights_any(path("ckpt.safetensors"), from_checkpoint).lines(),
            std::vector<std::string>{"skipped: optimizer.momentum.classifier.weight"});
  EXPECT_TRUE(same_state(source, from_checkpoint));

  // Mixed layouts, only ambiguous shapes, or an unknown marker: errors naming the file.
  std::map<std::string, Tensor> mixed = to_pytorch_state_dict(source);
  mixed["classifier.weight"] = source.state_dict().at("classifier.weight");
  save_safetensors(path("mixed.safetensors"), mixed);
  expect_error([&] { load_weights_any(path("mixed.safetensors"), source); },
               {path("mixed.safetensors"), "both layouts", "classifier.weight"});
  Sequential ambiguous;
  ambiguous.add(std::make_shared<Conv2d>(Conv2dOptions(3, 4, 3)));
  save_safetensors(path("ambiguous.safetensors"), ambiguous.state_dict());
  expect_error([&] { load_weights_any(path("ambiguous.safetensors"), ambiguous); },
               {path("ambiguous.safetensors"), "cannot tell the layout"});
  save_safetensors(path("odd.safetensors"), source.state_dict(), {{"layout", "nchw?"}});
  expect_error([&] { load_weights_any(path("odd.safetensors"), source); }, {"unknown layout", "nchw?"});
}

// torchvision's segmentation checkpoints carry aux_classifier.*; load_weights_any skips it for models without one.
TEST_F(PytorchWeightsTest, LoadWeightsAnySkipsTorchvisionsAuxiliaryHead) {
  std::map<std::string, Tensor> state = load_safetensors(parity_file("tiny_pt.safetensors"));
  state["aux_classifier.4.weight"] = Tensor::zeros({4, 256, 1, 1});
  save_safetensors(path("aux.safetensors"), state, {{"format", "pt"}});
  Tiny model;
  const ImportReport r = load_weights_any(path("aux.safetensors"), model);
  EXPECT_EQ(r.lines(), std::vector<std::string>{"skipped: aux_classifier.4.weight"});
  EXPECT_EQ(r.loaded, 9);
}

}  // namespace
