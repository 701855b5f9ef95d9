// Self-describing weights: weights files and checkpoints record the model's name, classes, output stride, resize
// convention, preprocessing and the inference settings it was validated with; the model is rebuilt from the file
// alone and computes the same; files without a description, or with a broken one, give errors naming the file and
// the entry.
#include <gtest/gtest.h>

#include "core/atrous.h"
#include "models/model_metadata.h"
#include "models/registry.h"
#include "solvers/sgd.h"
#include "support/test_helpers.h"
#include "train/checkpoint.h"

using namespace atrous;
using atrous::testing::expect_error;
using atrous::testing::same_bits;
using atrous::testing::ScratchDirTest;

class ModelMetadata : public ScratchDirTest {};

TEST_F(ModelMetadata, WeightsFileDescribesItsModelAndRebuildsIt) {
  const std::string dir = this->dir().string();
  auto model = create_model("deeplabv3plus-mobilenetv2-lite", {3, 8, 7});
  Preprocessing custom = model->definition().preprocessing;
  custom.mean = {0.1f, 0.2f, 1.0f / 3.0f};  // a value with no short decimal form must survive exactly
  model->set_preprocessing(custom);
  save_module(dir + "/w.safetensors", *model);

  const auto info = saved_model_info(SafetensorsFile(dir + "/w.safetensors"));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->name, "deeplabv3plus-mobilenetv2-lite");
  EXPECT_EQ(info->num_classes, 3);
  EXPECT_EQ(info->output_stride, 8);
  EXPECT_TRUE(info->align_corners);
  EXPECT_EQ(info->preprocessing.mean, custom.mean);
  EXPECT_EQ(info->preprocessing.std, custom.std);
  EXPECT_EQ(info->preprocessing.input_scale, custom.input_scale);
  EXPECT_EQ(info->preprocessing.bgr, custom.bgr);

  auto rebuilt = create_model_described_by(dir + "/w.safetensors");
  EXPECT_EQ(rebuilt->definition().name, "deeplabv3plus-mobilenetv2-lite");
  EXPECT_EQ(rebuilt->output_stride(), 8);
  EXPECT_EQ(rebuilt->definition().preprocessing.mean, custom.mean);
  load_module(dir + "/w.safetensors", *rebuilt);
  model->eval();
  rebuilt->eval();
  const Tensor x = Tensor::uniform({1, 35, 29, 3}, -1, 1, default_generator());
  EXPECT_TRUE(same_bits(model->forward(x), rebuilt->forward(x)));
}

TEST_F(ModelMetadata, CheckpointsDescribeTheirModelToo) {
  const std::string dir = this->dir().string();
  auto model = create_model("tiny-deeplab", {4, 0, 1});
  Sgd sgd(model->param_groups(), SgdOptions{0.1, 0.9, 0, false});
  save_checkpoint(dir + "/c.safetensors", *model, sgd, TrainingState{});
  const auto info = saved_model_info(SafetensorsFile(dir + "/c.safetensors"));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->name, "tiny-deeplab");
  EXPECT_EQ(info->num_classes, 4);
}

TEST_F(ModelMetadata, UndescribedAndBrokenFilesGiveClearErrors) {
  const std::string dir = this->dir().string();
  save_safetensors(dir + "/bare.safetensors", {{"w", Tensor::zeros({2})}});
  EXPECT_FALSE(saved_model_info(SafetensorsFile(dir + "/bare.safetensors")).has_value());
  expect_error([&] { create_model_described_by(dir + "/bare.safetensors"); },
               {"bare.safetensors", "does not say which model", "--model"});

  auto write = [&](const std::string& name, std::map<std::string, std::string> meta) {
    save_safetensors(dir + "/" + name, {{"w", Tensor::zeros({2})}}, meta);
    return dir + "/" + name;
  };
  const std::map<std::string, std::string> good = {{"model.name", "tiny-deeplab"},
                                                    {"model.classes", "4"},
                                                    {"model.output_stride", "4"},
                                                    {"model.align_corners", "true"},
                                                    {"model.preprocessing", "rgb 1 0 0 0 1 1 1"}};
  EXPECT_TRUE(saved_model_info(SafetensorsFile(write("good.safetensors", good))).has_value());
  auto with = [&](const std::string& key, const std::string& value) {
    auto m = good;
    m[key] = value;
    return m;
  };
  expect_error([&] { saved_model_info(SafetensorsFile(write("a.safetensors", with("model.classes", "4x")))); },
               {"a.safetensors", "model.classes", "'4x'", "positive integer"});
  expect_error([&] { saved_model_info(SafetensorsFile(write("b.safetensors", with("model.classes", "0")))); },
               {"b.safetensors", "model.classes"});
  expect_error([&] { saved_model_info(SafetensorsFile(write("c.safetensors", with("model.align_corners", "yes")))); },
               {"c.safetensors", "model.align_corners", "true or false"});
  expect_error(
      [&] { saved_model_info(SafetensorsFile(write("d.safetensors", with("model.preprocessing", "rgb 1 0 0")))); },
      {"d.safetensors", "model.preprocessing"});
  auto missing = good;
  missing.erase("model.output_stride");
  expect_error([&] { saved_model_info(SafetensorsFile(write("e.safetensors", missing))); },
               {"e.safetensors", "lacks 'model.output_stride'"});
  expect_error([&] { create_model_described_by(write("f.safetensors", with("model.name", "no-such-net"))); },
               {"f.safetensors", "no-such-net", "--model"});
}

TEST_F(ModelMetadata, InferenceSettingsRoundTripInWeightsAndCheckpoints) {
  const std::string dir = this->dir().string();
  auto model = create_model("tiny-deeplab", {4, 0, 1});
  save_module(dir + "/plain.safetensors", *model);
  EXPECT_FALSE(recorded_inference(SafetensorsFile(dir + "/plain.safetensors")).has_value());

  const RecordedInference wanted{{0.75, 1.0 / 3.0}, true};  // 1/3 must come back exactly
  save_module(dir + "/w.safetensors", *model, inference_metadata(wanted));
  const auto got = recorded_inference(SafetensorsFile(dir + "/w.safetensors"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->scales, wanted.scales);
  EXPECT_TRUE(got->flip);

  Sgd sgd(model->param_groups(), SgdOptions{0.1, 0.9, 0, false});
  save_checkpoint(dir + "/c.safetensors", *model, sgd, TrainingState{}, inference_metadata({{0.5}, false}));
  const auto from_checkpoint = recorded_inference(SafetensorsFile(dir + "/c.safetensors"));
  ASSERT_TRUE(from_checkpoint.has_value());
  EXPECT_EQ(from_checkpoint->scales, std::vector<double>{0.5});
  EXPECT_FALSE(from_checkpoint->flip);
  EXPECT_EQ(saved_model_info(SafetensorsFile(dir + "/c.safetensors"))->name, "tiny-deeplab");
}

TEST_F(ModelMetadata, BrokenInferenceSettingsGiveClearErrors) {
  const std::string dir = this->dir().string();
  auto write = [&](const std::string& name, const std::map<std::string, std::string>& meta) {
    save_safetensors(dir + "/" + name, {{"w", Tensor::zeros({2})}}, meta);
    return SafetensorsFile(dir + "/" + name);
  };
  expect_error(
      [&] {
        recorded_inference(write("a.safetensors", {{"inference.scales", "0.75 x"}, {"inference.flip", "false"}}));
      },
      {"a.safetensors", "inference.scales", "'x'", "positive number"});
  expect_error(
      [&] {
        recorded_inference(write("b.safetensors", {{"inference.scales", "-1"}, {"inference.flip", "false"}}));
      },
      {"b.safetensors", "'-1'", "positive number"});
  expect_error(
      [&] {
        recorded_inference(write("c.safetensors", {{"inference.scales", " "}, {"inference.flip", "false"}}));
      },
      {"c.safetensors", "lists no scale"});
  expect_error(
      [&] {
        recorded_inference(write("d.safetensors", {{"inference.scales", "1"}, {"inference.flip", "yes"}}));
      },
      {"d.safetensors", "inference.flip", "true or false"});
  expect_error(
      [&] {
        recorded_inference(write("e.safetensors", {{"inference.scales", "1"}}));
      },
      {"e.safetensors", "not the other"});
}
