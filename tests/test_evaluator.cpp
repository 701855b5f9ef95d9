// Evaluation: metrics from hand-computed confusion matrices (a model whose predictions the test controls), trimap
// bands on hand-drawn label maps (and against a brute-force reference), sliding windows (one window == the whole
// image; a pointwise model == whole-image inference; overlap averaging and mean padding computed by hand), scales and
// flips as predict_logits composes them, the refine hook, written masks/overlays, table and JSON.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atrous.h"
#include "data/image_io.h"
#include "data/palette.h"
#include "eval/evaluator.h"
#include "eval/sliding_window.h"
#include "eval/trimap.h"
#include "layers/conv2d.h"
#include "models/inference.h"
#include "models/tiny_deeplab.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_close;
using atrous::testing::expect_error;

namespace {

// Raw pixel values in, so that tests can reason about what the model sees.
ModelDefinition identity_definition(const std::string& name, int classes) {
  ModelDefinition d;
  d.name = name;
  d.num_classes = classes;
  d.output_stride = 1;
  d.align_corners = true;
  d.preprocessing.bgr = false;
  d.preprocessing.input_scale = 1.0;
  return d;
}

// Predicts, at every pixel, the class written in the image's red channel: logit c = -(R - c)^2.
class RedChannelOracle : public SegmentationModel {
 public:
  explicit RedChannelOracle(int classes)
      : SegmentationModel("RedChannelOracle", identity_definition("oracle", classes)) {}
  Tensor forward(const Tensor& x_in) override {
    const Tensor x = x_in.contiguous();
    const int64_t pixels = x.size(0) * x.size(1) * x.size(2), c = num_classes();
    Tensor out = Tensor::empty({x.size(0), x.size(1), x.size(2), c});
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t k = 0; k < c; ++k) {
        const double d = x.data<float>()[p * 3] - k;
        out.data<float>()[p * c + k] = static_cast<float>(-d * d);
      }
    return out;
  }
};

// A random 1x1 convolution at output stride 1: every output pixel depends on its input pixel only, so any tiling of
// the image into windows gives the same logits as the whole image.
class PointwiseModel : public SegmentationModel {
 public:
  PointwiseModel(int classes, Generator& gen)
      : SegmentationModel("PointwiseModel", identity_definition("pointwise", classes)) {
    definition_.preprocessing = caffe_bgr_preprocessing();  // padding must be the mean, whatever the preprocessing
    conv = register_module("conv", std::make_shared<Conv2d>(Conv2dOptions(3, classes, 1), gen));
  }
  Tensor forward(const Tensor& x) override { return conv->forward(x); }
  std::shared_ptr<Conv2d> conv;
};

// Output: the window's mean of input channel 0 as one 1x1 "logit" map (class 0), zeros for class 1. Resized to the
// window it is constant, so the averaged map shows exactly how windows overlap and what the padding holds.
class WindowMeanModel : public SegmentationModel {
 public:
  WindowMeanModel() : SegmentationModel("WindowMeanModel", identity_definition("window-mean", 2)) {}
  Tensor forward(const Tensor& x_in) override {
    const Tensor x = x_in.contiguous();
    const int64_t pixels = x.size(1) * x.size(2);
    double total = 0;
    for (int64_t p = 0; p < pixels; ++p) total += x.data<float>()[p * 3];
    ++calls;
    return Tensor::from_vector<float>({static_cast<float>(total / pixels), 0.0f}, {1, 1, 1, 2});
  }
  int calls = 0;
};

// A dataset held in memory: images whose red channel is the prediction the oracle will make.
class MemoryDataset : public SegmentationDataset {
 public:
  MemoryDataset(int classes, int ignore) : classes_(classes), ignore_(ignore) {}
  void add(const std::string& id, const std::vector<int>& predicted, const std::vector<int>& truth, int64_t h,
           int64_t w) {
    Tensor image = Tensor::zeros({h, w, 3}, DType::u8);
    Tensor label = Tensor::empty({h, w}, DType::u8);
    for (int64_t p = 0; p < h * w; ++p) {
      image.data<uint8_t>()[p * 3] = static_cast<uint8_t>(predicted[p]);
      image.data<uint8_t>()[p * 3 + 1] = static_cast<uint8_t>(40 * p % 256);
      label.data<uint8_t>()[p] = static_cast<uint8_t>(truth[p]);
    }
    items_.push_back({image, label, id});
  }
  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  LabeledImage get(int64_t index) const override { return items_.at(index); }
  int num_classes() const override { return classes_; }
  int ignore_index() const override { return ignore_; }
  std::string palette_name() const override { return "voc"; }
  std::string describe() const override { return "memory, " + std::to_string(items_.size()) + " images"; }

 private:
  int classes_, ignore_;
  std::vector<LabeledImage> items_;
};

// Image A (2x3) and B (1x4). Confusion over both, ignoring the 255:
// (truth, pred): (0,0) x2, (0,1) x1, (1,1) x3, (2,2) x2, (2,0) x1.
// IoU0 = 2 / (3 + 3 - 2) = 0.5, IoU1 = 3 / (3 + 4 - 3) = 0.75, IoU2 = 2 / (3 + 2 - 2) = 2/3; pixel accuracy 7/9.
MemoryDataset hand_dataset() {
  MemoryDataset d(3, 255);
  d.add("a", {0, 1, 1, 1, 2, 0}, {0, 0, 1, 1, 2, 255}, 2, 3);
  d.add("sub/b", {2, 0, 0, 1}, {2, 2, 0, 1}, 1, 4);
  return d;
}

Tensor random_image(int64_t h, int64_t w, uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform({h, w, 3}, 0, 255, gen).to(DType::u8);
}

Tensor u8_map(const std::vector<int>& values, int64_t h, int64_t w) {
  std::vector<uint8_t> v(values.begin(), values.end());
  return Tensor::from_vector<uint8_t>(v, {h, w});
}

std::vector<int> as_ints(const Tensor& t) {
  std::vector<int> out;
  for (double v : t.to_double_vector()) out.push_back(static_cast<int>(v));
  return out;
}

}  // namespace

TEST(Evaluator, MetricsMatchHandComputedConfusion) {
  RedChannelOracle model(3);
  const MemoryDataset data = hand_dataset();
  const EvaluationResult r = evaluate(model, data, EvaluationOptions{});
  EXPECT_EQ(r.images, 2);
  EXPECT_EQ(r.confusion.count(0, 0), 2);
  EXPECT_EQ(r.confusion.count(0, 1), 1);
  EXPECT_EQ(r.confusion.count(1, 1), 3);
  EXPECT_EQ(r.confusion.count(2, 2), 2);
  EXPECT_EQ(r.confusion.count(2, 0), 1);
  EXPECT_EQ(r.confusion.total(), 9);
  const auto iou = r.confusion.class_iou();
  EXPECT_DOUBLE_EQ(iou[0], 0.5);
  EXPECT_DOUBLE_EQ(iou[1], 0.75);
  EXPECT_DOUBLE_EQ(iou[2], 2.0 / 3);
  EXPECT_DOUBLE_EQ(r.confusion.mean_iou(), (0.5 + 0.75 + 2.0 / 3) / 3);
  EXPECT_DOUBLE_EQ(r.confusion.pixel_accuracy(), 7.0 / 9);
  EXPECT_EQ(r.class_names, (std::vector<std::string>{"background", "aeroplane", "bicycle"}));

  EvaluationOptions first_only;
  first_only.limit = 1;
  EXPECT_EQ(evaluate(model, data, first_only).confusion.total(), 5);
}

TEST(Evaluator, TrimapMiouCountsOnlyTheBand) {
  RedChannelOracle model(3);
  EvaluationOptions options;
  options.trimap_bands = {1, 50};
  const EvaluationResult r = evaluate(model, hand_dataset(), options);
  // Band 1: every labelled pixel of A, and pixels 1..3 of B (pixel 0's only neighbour has its label).
  // (0,0) x2, (0,1), (1,1) x3, (2,2), (2,0): IoU 2/4, 3/4, 1/2.
  ASSERT_EQ(r.trimap_miou.size(), 2u);
  EXPECT_EQ(r.trimap_miou[0].first, 1);
  EXPECT_DOUBLE_EQ(r.trimap_miou[0].second, (0.5 + 0.75 + 0.5) / 3);
  // A band wider than the images holds every pixel that has any other label in sight: all of them here.
  EXPECT_DOUBLE_EQ(r.trimap_miou[1].second, r.confusion.mean_iou());
}

TEST(Trimap, HandDrawnBands) {
  const Tensor labels = u8_map({0, 0, 0, 1, 1, 1,  //
                                0, 0, 0, 1, 1, 1,  //
                                0, 0, 0, 1, 1, 1,  //
                                2, 2, 2, 2, 2, 2,  //
                                2, 2, 2, 2, 2, 2},
                               5, 6);
  EXPECT_EQ(as_ints(trimap_mask(labels, 1, 255)), (std::vector<int>{0, 0, 1, 1, 0, 0,  //
                                                                    0, 0, 1, 1, 0, 0,  //
                                                                    1, 1, 1, 1, 1, 1,  //
                                                                    1, 1, 1, 1, 1, 1,  //
                                                                    0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(as_ints(trimap_mask(labels, 2, 255)), (std::vector<int>{0, 1, 1, 1, 1, 0,  //
                                                                    1, 1, 1, 1, 1, 1,  //
                                                                    1, 1, 1, 1, 1, 1,  //
                                                                    1, 1, 1, 1, 1, 1,  //
                                                                    1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(as_ints(trimap_mask(labels, 0, 255)), std::vector<int>(30, 0));
  // Chebyshev distance: a lone pixel's band of 2 reaches the corners of the 5x5 square (Euclidean 2.83 would not).
  std::vector<int> lone(25, 0);
  lone[12] = 1;
  EXPECT_EQ(as_ints(trimap_mask(u8_map(lone, 5, 5), 2, 255)), std::vector<int>(25, 1));
  std::vector<int> ring1(25, 0);
  for (int y = 1; y <= 3; ++y)
    for (int x = 1; x <= 3; ++x) ring1[y * 5 + x] = 1;
  EXPECT_EQ(as_ints(trimap_mask(u8_map(lone, 5, 5), 1, 255)), ring1);
}

TEST(Trimap, IgnorePixels) {
  const Tensor stripe = u8_map({0, 0, 255, 1, 1}, 1, 5);
  // Ignore counts as a boundary (VOC outlines): its neighbours are in the band, the ignore pixel itself never.
  EXPECT_EQ(as_ints(trimap_mask(stripe, 1, 255)), (std::vector<int>{0, 1, 0, 1, 0}));
  // Invisible ignore: band 1 sees no other label, band 2 reaches across the stripe.
  EXPECT_EQ(as_ints(trimap_mask(stripe, 1, 255, false)), (std::vector<int>{0, 0, 0, 0, 0}));
  EXPECT_EQ(as_ints(trimap_mask(stripe, 2, 255, false)), (std::vector<int>{0, 1, 0, 1, 0}));
  // CamVid's ignore is 11, an ordinary-looking value; i32 maps work too.
  EXPECT_EQ(as_ints(trimap_mask(u8_map({3, 11, 3}, 1, 3).to(DType::i32), 1, 11)), (std::vector<int>{1, 0, 1}));
  expect_error([] { trimap_mask(Tensor::zeros({2, 2, 1}, DType::u8), 1, 255); }, {"trimap_mask", "[H,W]"});
  expect_error([] { trimap_mask(Tensor::zeros({2, 2}, DType::u8), -1, 255); }, {"band", "-1"});
}

TEST(Trimap, MatchesBruteForceOnRandomBlocks) {
  Generator gen(11);
  const int64_t h = 23, w = 37;
  // Blocky random labels (runs of equal values) with some ignore pixels.
  const auto noise = Tensor::uniform({h, w}, 0, 1, gen).to_double_vector();
  std::vector<int> labels(h * w);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int block = static_cast<int>((y / 4) * 7 + (x / 5)) % 3;
      labels[y * w + x] = noise[y * w + x] < 0.05 ? 255 : noise[y * w + x] < 0.1 ? (block + 1) % 3 : block;
    }
  const Tensor map = u8_map(labels, h, w);
  for (int band : {1, 2, 3, 6, 40})
    for (bool ignore_is_boundary : {true, false}) {
      std::vector<int> expected(h * w, 0);
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const int own = labels[y * w + x];
          if (own == 255) continue;
          for (int64_t v = std::max<int64_t>(0, y - band); v <= std::min(h - 1, y + band); ++v)
            for (int64_t u = std::max<int64_t>(0, x - band); u <= std::min(w - 1, x + band); ++u) {
              const int other = labels[v * w + u];
              if (other != own && (ignore_is_boundary || other != 255)) expected[y * w + x] = 1;
            }
        }
      EXPECT_EQ(as_ints(trimap_mask(map, band, 255, ignore_is_boundary)), expected)
          << "band " << band << " ignore_is_boundary " << ignore_is_boundary;
    }
}

TEST(SlidingWindow, WindowStarts) {
  EXPECT_EQ(window_starts(7, 3, 2), (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(window_starts(8, 3, 2), (std::vector<int64_t>{0, 2, 4, 5}));
  EXPECT_EQ(window_starts(3, 3, 1), (std::vector<int64_t>{0}));
  EXPECT_EQ(window_starts(10, 4, 3), (std::vector<int64_t>{0, 3, 6}));
  expect_error([] { window_starts(2, 3, 1); }, {"window_starts", "length 2"});
}

TEST(SlidingWindow, OneWindowCoveringTheImageIsWholeImageInference) {
  Generator gen(1);
  TinyDeepLab model(TinyDeepLabConfig{}, gen);
  const Tensor x = preprocess(random_image(32, 32, 2), model.definition().preprocessing);
  const Tensor slid = sliding_window_logits(model, x, 32, 1.0 / 3);
  NoGradGuard no_grad;
  const Tensor whole = resize_bilinear(model.forward(x), ResizeParams::to_size(32, 32, true));
  EXPECT_TRUE(atrous::testing::bitwise_equal(slid, whole));
}

TEST(SlidingWindow, PointwiseModelMatchesWholeImage) {
  Generator gen(3);
  PointwiseModel model(5, gen);
  const Tensor image = random_image(45, 70, 4);
  const Tensor x = preprocess(image, model.definition().preprocessing);
  NoGradGuard no_grad;
  const Tensor whole = model.forward(x);
  for (double overlap : {0.0, 1.0 / 3, 0.5, 0.9})
    expect_close(sliding_window_logits(model, x, 16, overlap), whole, 1e-5);
  // A crop larger than the image along one axis pads that axis; the padded rows never reach the result.
  expect_close(sliding_window_logits(model, x, 50, 0.25), whole, 1e-5);

  // infer_image: sliding at the scales that exceed the crop, whole images at the others, with flips.
  EvaluationOptions options;
  options.scales = {0.5, 1.0, 1.25};
  options.flip = true;
  options.crop_size = 24;
  InferenceOptions plain;
  plain.scales = options.scales;
  plain.flip = true;
  plain.preprocessing = model.definition().preprocessing;
  expect_close(infer_image(model, image, options), predict_logits(model, image, plain), 1e-5);
}

TEST(SlidingWindow, OverlapsAverageAndPaddingIsTheMean) {
  WindowMeanModel model;
  // 2x5 image, red = 0, 10, 20, 30, 40 per column. Crop 2, overlap 0.5: stride 1, windows start at columns 0..3
  // with means 5, 15, 25, 35; each pixel averages the windows covering it.
  Tensor image = Tensor::zeros({2, 5, 3}, DType::u8);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 5; ++x) image.data<uint8_t>()[(y * 5 + x) * 3] = static_cast<uint8_t>(10 * x);
  const Tensor x = preprocess(image, model.definition().preprocessing);
  const auto out = sliding_window_logits(model, x, 2, 0.5).to_double_vector();
  EXPECT_EQ(model.calls, 4);
  const std::vector<double> expected{5, 10, 20, 30, 35};
  for (int y = 0; y < 2; ++y)
    for (int c = 0; c < 5; ++c) {
      EXPECT_NEAR(out[(y * 5 + c) * 2], expected[c], 1e-5) << "row " << y << " column " << c;
      EXPECT_EQ(out[(y * 5 + c) * 2 + 1], 0.0);
    }
  // A 2x3 image of red 32 in a 4x4 crop: padded with 10 zeros, so the one window's mean is 6 * 32 / 16 = 12.
  Tensor small = Tensor::zeros({2, 3, 3}, DType::u8);
  for (int p = 0; p < 6; ++p) small.data<uint8_t>()[p * 3] = 32;
  const auto padded = sliding_window_logits(model, preprocess(small, model.definition().preprocessing), 4, 0.5);
  EXPECT_EQ(padded.shape(), (Shape{1, 2, 3, 2}));
  EXPECT_NEAR(padded.to_double_vector()[0], 12.0, 1e-5);
  expect_error([&] { sliding_window_logits(model, x, 2, 1.0); }, {"overlap", "[0, 1)"});
  expect_error([&] { sliding_window_logits(model, x, 0, 0.5); }, {"crop_size", "0"});
}

TEST(Evaluator, ScalesAndFlipsComposeAsPredictLogits) {
  Generator gen(5);
  TinyDeepLab model(TinyDeepLabConfig{}, gen);
  const Tensor image = random_image(24, 30, 6);
  EvaluationOptions options;
  options.scales = {0.75, 1.0, 1.5};
  options.flip = true;
  InferenceOptions reference;
  reference.scales = options.scales;
  reference.flip = true;
  reference.preprocessing = model.definition().preprocessing;
  const Tensor averaged = infer_image(model, image, options);
  EXPECT_EQ(averaged.shape(), (Shape{24, 30, 4}));
  expect_close(averaged, predict_logits(model, image, reference), 1e-6);
  // The average of two single passes: scale 1 plain, scale 1 flipped.
  EvaluationOptions one;
  const Tensor plain = infer_image(model, image, one);
  NoGradGuard no_grad;
  const Tensor x = preprocess(image, model.definition().preprocessing);
  const Tensor flipped =
      resize_bilinear(flip_horizontal(model.forward(flip_horizontal(x))), ResizeParams::to_size(24, 30, true))
          .reshape({24, 30, 4});
  one.flip = true;
  expect_close(infer_image(model, image, one), scale(add(plain, flipped), 0.5), 1e-5);
}

TEST(Evaluator, RefineHookSeesEveryImage) {
  RedChannelOracle model(3);
  EvaluationOptions options;
  int calls = 0;
  // Reverses the class order: prediction p becomes 2 - p.
  options.refine = [&](const Tensor& image, const Tensor& logits) {
    ++calls;
    EXPECT_EQ(image.size(0), logits.size(0));
    const int64_t pixels = logits.size(0) * logits.size(1);
    Tensor out = logits.contiguous().clone();
    for (int64_t p = 0; p < pixels; ++p) std::swap(out.data<float>()[p * 3], out.data<float>()[p * 3 + 2]);
    return out;
  };
  const EvaluationResult r = evaluate(model, hand_dataset(), options);
  EXPECT_EQ(calls, 2);
  // Predictions A: 2,1,1,1,0 (labelled pixels), B: 0,2,2,1 -> truth 0 predicted 2 three times, etc.
  EXPECT_EQ(r.confusion.count(0, 2), 2);
  EXPECT_EQ(r.confusion.count(0, 1), 1);
  EXPECT_EQ(r.confusion.count(2, 0), 2);
  EXPECT_EQ(r.confusion.count(2, 2), 1);
  options.refine = [](const Tensor&, const Tensor& logits) { return logits.slice(2, 0, 2).contiguous(); };
  expect_error([&] { evaluate(model, hand_dataset(), options); }, {"refine", "image 'a'", "[2,3,3]"});
}

class EvaluatorFiles : public atrous::testing::ScratchDirTest {};

TEST_F(EvaluatorFiles, WritesMasksAndOverlaysForTheFirstImages) {
  RedChannelOracle model(3);
  const MemoryDataset data = hand_dataset();
  EvaluationOptions options;
  options.output_dir = path("out");
  options.write_samples = 1;
  evaluate(model, data, options);
  EXPECT_EQ(atrous::testing::ScratchDirTest::listing().size(), 1u);
  const std::string mask = path("out/a_mask.png");
  EXPECT_EQ(as_ints(read_label_png(mask)), (std::vector<int>{0, 1, 1, 1, 2, 0}));
  const Tensor over = read_image_rgb(path("out/a_overlay.png"));
  const Tensor expected = overlay(data.get(0).image, read_label_png(mask), palette_by_name("voc"));
  EXPECT_TRUE(atrous::testing::bitwise_equal(over, expected));
  EXPECT_FALSE(std::filesystem::exists(path("out/sub_b_mask.png")));
  options.write_samples = 8;  // ids with folders are flattened
  evaluate(model, data, options);
  EXPECT_TRUE(std::filesystem::exists(path("out/sub_b_mask.png")));
  EXPECT_TRUE(std::filesystem::exists(path("out/sub_b_overlay.png")));
  // A folder that cannot be made (a file sits where a parent should be) is an error naming it.
  options.output_dir = write_raw("plain-file", "x") + "/masks";
  expect_error([&] { evaluate(model, data, options); }, {"output folder", "plain-file/masks"});
}

TEST(Evaluator, TableAndJson) {
  RedChannelOracle model(3);
  EvaluationOptions options;
  options.trimap_bands = {1};
  const EvaluationResult r = evaluate(model, hand_dataset(), options);
  const std::string table = r.table();
  for (const char* needle : {"background", "aeroplane", "bicycle", "50.00", "75.00", "66.67", "mIoU", "63.89",
                             "pixel acc", "77.78", "trimap mIoU 1px", "58.33", "2 images"})
    EXPECT_NE(table.find(needle), std::string::npos) << needle << " missing from\n" << table;
  // Columns line up: the header, the rule and every class row are equally long.
  std::istringstream lines(table);
  std::string line;
  std::vector<size_t> widths;
  for (int i = 0; i < 5 && std::getline(lines, line); ++i) widths.push_back(line.size());
  EXPECT_EQ(widths, std::vector<size_t>(5, widths[0])) << table;

  const auto j = nlohmann::json::parse(r.json());
  EXPECT_DOUBLE_EQ(j["mean_iou"].get<double>(), (0.5 + 0.75 + 2.0 / 3) / 3);
  EXPECT_DOUBLE_EQ(j["pixel_accuracy"].get<double>(), 7.0 / 9);
  EXPECT_EQ(j["images"].get<int>(), 2);
  EXPECT_EQ(j["classes"][1]["name"].get<std::string>(), "aeroplane");
  EXPECT_DOUBLE_EQ(j["classes"][1]["iou"].get<double>(), 0.75);
  EXPECT_EQ(j["classes"][2]["pixels"].get<int>(), 3);
  EXPECT_EQ(j["trimap"][0]["band"].get<int>(), 1);
  EXPECT_EQ(j["confusion"][2][0].get<int>(), 1);
}

TEST(Evaluator, AbsentClassIsNullInJsonAndDashInTable) {
  RedChannelOracle model(4);
  MemoryDataset data(4, 255);
  data.add("x", {0, 1}, {0, 1}, 1, 2);
  const EvaluationResult r = evaluate(model, data, EvaluationOptions{});
  EXPECT_TRUE(nlohmann::json::parse(r.json())["classes"][3]["iou"].is_null());
  EXPECT_NE(r.table().find("bird"), std::string::npos);
  EXPECT_DOUBLE_EQ(r.confusion.mean_iou(), 1.0);
}

TEST(Evaluator, BadSettingsAreErrors) {
  RedChannelOracle model(5);
  const MemoryDataset data = hand_dataset();
  expect_error([&] { evaluate(model, data, EvaluationOptions{}); }, {"5 classes", "memory, 2 images", "3"});
  RedChannelOracle three(3);
  EvaluationOptions o;
  o.scales = {};
  expect_error([&] { evaluate(three, data, o); }, {"scale"});
  o = EvaluationOptions{};
  o.window_overlap = 1.0;
  expect_error([&] { evaluate(three, data, o); }, {"window_overlap"});
  o = EvaluationOptions{};
  o.trimap_bands = {0};
  expect_error([&] { evaluate(three, data, o); }, {"trimap", "0"});
  expect_error(
      [&] {
        infer_image(three, Tensor::zeros({4, 4}, DType::u8), EvaluationOptions{});
      },
      {"infer_image", "[H,W,3]"});
}

TEST(ConfusionMatrix, MergeAddsCounts) {
  ConfusionMatrix a(2), b(2), c(3);
  a.add(Tensor::from_vector<int32_t>({0, 1}, {2}), Tensor::from_vector<int32_t>({0, 0}, {2}));
  b.add(Tensor::from_vector<uint8_t>({1, 1}, {2}), Tensor::from_vector<uint8_t>({1, 255}, {2}));
  a.merge(b);
  EXPECT_EQ(a.count(0, 0), 1);
  EXPECT_EQ(a.count(0, 1), 1);
  EXPECT_EQ(a.count(1, 1), 1);
  EXPECT_EQ(a.total(), 3);
  EXPECT_EQ(a.truth_pixels(0), 2);
  expect_error([&] { a.merge(c); }, {"merge", "2 classes", "3 classes"});
  // Float maps still work (through doubles).
  ConfusionMatrix f(2);
  f.add(Tensor::from_vector<float>({1, 0}, {2}), Tensor::from_vector<int32_t>({1, 1}, {2}));
  EXPECT_EQ(f.count(1, 0), 1);
}
