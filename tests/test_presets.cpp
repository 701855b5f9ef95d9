// Training presets hold the papers' recipes; settings validate by name and translate into the Trainer's, the
// loader's and the registry's options; median-frequency class weights match a hand count. (How a config file and
// flags combine with a preset is tested end to end through the CLI in tests/cli/train_config.sh.)
#include <gtest/gtest.h>

#include "support/test_helpers.h"
#include "train/class_weights.h"
#include "train/presets.h"
#include "train/train_settings.h"

using namespace atrous;
using namespace atrous::testing;

TEST(TrainPresets, LargeFovVocIsTheV2PolyRecipe) {
  const TrainSettings& s = training_preset("largefov-voc").settings;
  EXPECT_EQ(s.model, "deeplab-v1-largefov");
  EXPECT_EQ(s.dataset, "voc");
  EXPECT_EQ(s.batch_size, 10);
  EXPECT_EQ(s.iter_size, 1);
  EXPECT_DOUBLE_EQ(s.lr, 1e-3);
  EXPECT_EQ(s.lr_policy, LrSchedule::poly);
  EXPECT_DOUBLE_EQ(s.lr_power, 0.9);
  EXPECT_DOUBLE_EQ(s.momentum, 0.9);
  EXPECT_DOUBLE_EQ(s.weight_decay, 5e-4);
  EXPECT_EQ(s.crop_height, 321);
  EXPECT_EQ(s.crop_width, 321);
  EXPECT_EQ(s.max_iterations, 20000);
  EXPECT_DOUBLE_EQ(s.scale_min, 1.0);  // v1: no random scaling
  EXPECT_DOUBLE_EQ(s.scale_max, 1.0);
  EXPECT_EQ(s.loss_resolution, LossResolution::Output);  // labels subsampled to the stride-8 scores
  EXPECT_EQ(s.bn_mode, TrainBnMode::model);
  EXPECT_EQ(s.momentum_style, MomentumStyle::caffe);  // trained in Caffe: the lr inside the velocity
  EXPECT_EQ(trainer_options(s).sgd.momentum_style, MomentumStyle::caffe);
}

TEST(TrainPresets, DeepLabV2ResNetVocIsThePaperRecipe) {
  const TrainSettings& s = training_preset("deeplabv2-resnet-voc").settings;
  EXPECT_EQ(s.model, "deeplabv2-resnet101-msc");  // ASPP-L with multi-scale inputs, Table 4's best
  EXPECT_EQ(s.batch_size, 10);
  EXPECT_DOUBLE_EQ(s.lr, 2.5e-4);
  EXPECT_EQ(s.lr_policy, LrSchedule::poly);
  EXPECT_DOUBLE_EQ(s.scale_min, 0.5);
  EXPECT_DOUBLE_EQ(s.scale_max, 1.5);
  EXPECT_EQ(s.crop_height, 321);
  EXPECT_EQ(s.max_iterations, 20000);
  EXPECT_EQ(s.bn_mode, TrainBnMode::model);  // the model freezes its BN
  EXPECT_EQ(s.momentum_style, MomentumStyle::caffe);
  EXPECT_EQ(s.loss_resolution, LossResolution::Output);
}

// The CPU CamVid recipe: a DeepLabv3+ that the registry knows, validated at full resolution.
TEST(TrainPresets, CamVidDeepLabV3PlusRecipe) {
  const TrainSettings& s = training_preset("camvid-deeplabv3plus").settings;
  EXPECT_EQ(s.model, "deeplabv3plus-mobilenetv2-lite");
  EXPECT_EQ(s.dataset, "camvid");
  EXPECT_EQ(s.val_scales, std::vector<double>{0.75});
  EXPECT_EQ(s.momentum_style, MomentumStyle::pytorch);
}

TEST(TrainPresets, OnlyTheCaffeRecipesUseCaffeMomentum) {
  EXPECT_EQ(TrainSettings{}.momentum_style, MomentumStyle::pytorch);
  EXPECT_EQ(trainer_options(TrainSettings{}).sgd.momentum_style, MomentumStyle::pytorch);
  for (const char* name : {"deeplabv3-voc", "camvid"}) {
    EXPECT_EQ(training_preset(name).settings.momentum_style, MomentumStyle::pytorch) << name;
    EXPECT_EQ(trainer_options(training_preset(name).settings).sgd.momentum_style, MomentumStyle::pytorch) << name;
  }
  EXPECT_NE(settings_to_toml(training_preset("largefov-voc").settings).find("momentum-style = \"caffe\"\n"),
            std::string::npos);
  EXPECT_NE(settings_to_toml(TrainSettings{}).find("momentum-style = \"pytorch\"\n"), std::string::npos);
}

TEST(TrainPresets, DeepLabV3VocIsThePaperRecipe) {
  const TrainSettings& s = training_preset("deeplabv3-voc").settings;
  EXPECT_EQ(s.model, "resnet101-deeplabv3");  // the paper definition (OS16, multi-grid)
  EXPECT_EQ(s.output_stride, 16);
  EXPECT_EQ(s.crop_height, 513);
  EXPECT_EQ(s.batch_size, 16);
  EXPECT_DOUBLE_EQ(s.lr, 0.007);
  EXPECT_EQ(s.lr_policy, LrSchedule::poly);
  EXPECT_EQ(s.bn_mode, TrainBnMode::decay);
  EXPECT_DOUBLE_EQ(s.bn_decay, 0.9997);
  EXPECT_DOUBLE_EQ(s.scale_min, 0.5);
  EXPECT_DOUBLE_EQ(s.scale_max, 2.0);
  EXPECT_TRUE(s.flip);
  EXPECT_EQ(s.max_iterations, 30000);
  EXPECT_EQ(s.loss_resolution, LossResolution::Input);
  const TrainerOptions t = trainer_options(s);
  ASSERT_TRUE(t.bn.has_value());
  EXPECT_EQ(t.bn->mode, BnPolicyMode::decay);
  EXPECT_NEAR(t.bn->effective_momentum(), 0.0003, 1e-12);
  EXPECT_EQ(t.loss_resolution, LossResolution::Input);
}

TEST(TrainPresets, EveryPresetValidatesOnceItHasAData_rootAndNamesAreUnique) {
  std::vector<std::string> names;
  for (const TrainPreset& p : training_presets().entries()) {
    TrainSettings s = p.settings;
    if (s.data_root.empty()) s.data_root = "/data";
    EXPECT_NO_THROW(validate_settings(s)) << p.name;
    EXPECT_TRUE(model_registry().contains(s.model)) << p.name << ": " << s.model;
    EXPECT_FALSE(p.summary.empty());
    for (const std::string& n : names) EXPECT_NE(n, p.name);
    names.push_back(p.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"largefov-voc", "deeplabv2-resnet-voc", "deeplabv3-voc", "camvid",
                                             "camvid-deeplabv3plus"}));
  const TrainSettings& camvid = training_preset("camvid").settings;
  EXPECT_EQ(camvid.dataset, "camvid");
  EXPECT_TRUE(model_registry().contains(camvid.model));
  expect_error([] { training_preset("largefov"); },
               {"largefov", "largefov-voc", "deeplabv2-resnet-voc", "deeplabv3-voc", "camvid", "camvid-deeplabv3plus"});
}

// What the command line and config files do with a setting's text: the table row parses it.
static void set(TrainSettings& s, const std::string& name, const std::vector<std::string>& words) {
  train_settings().get(name).parse(s, words);
}

TEST(TrainSettingsTest, BadSettingsAreNamed) {
  TrainSettings s;
  expect_error([&] { set(s, "lr-policy", {"cosine"}); }, {"setting lr-policy = 'cosine'", "poly, step, constant"});
  expect_error([&] { set(s, "bn-mode", {"sometimes"}); }, {"bn-mode", "sometimes", "model, train, frozen"});
  expect_error([&] { set(s, "momentum-style", {"tensorflow"}); }, {"momentum-style", "tensorflow", "pytorch, caffe"});
  expect_error([&] { set(s, "batch-size", {"4x"}); }, {"setting batch-size", "'4x' is not a whole number"});
  expect_error([&] { set(s, "batch-size", {"99999999999"}); }, {"batch-size", "99999999999"});
  expect_error([&] { set(s, "seed", {"-1"}); }, {"setting seed", "'-1'"});
  expect_error([&] { set(s, "lr", {"fast"}); }, {"setting lr", "'fast' is not a number"});
  expect_error([&] { set(s, "flip", {"maybe"}); }, {"setting flip", "true or false"});
  expect_error([&] { set(s, "val-scales", {"1", "x"}); }, {"setting val-scales", "'x'"});
  expect_error([] { train_settings().get("batch"); }, {"unknown setting 'batch'", "batch-size"});
  s = TrainSettings{};
  s.dataset = "imagenet";
  expect_error([&] { validate_settings(s); }, {"setting dataset = 'imagenet'", "voc, camvid, cityscapes, synthetic"});
  s = TrainSettings{};
  s.dataset = "voc";
  expect_error([&] { validate_settings(s); }, {"data-root", "voc"});
  s = TrainSettings{};
  s.batch_size = 0;
  expect_error([&] { validate_settings(s); }, {"setting batch-size must be >= 1, got 0"});
  s = TrainSettings{};
  s.scale_min = 2;
  s.scale_max = 1;
  expect_error([&] { validate_settings(s); }, {"scale-min"});
  s = TrainSettings{};
  s.warmup_iterations = s.max_iterations;
  expect_error([&] { validate_settings(s); }, {"warmup_iterations"});
  s = TrainSettings{};
  s.val_scales = {1.0, -0.5};
  expect_error([&] { validate_settings(s); }, {"val-scales", "-0.5"});
  s = TrainSettings{};
  s.bn_decay = 1.0;
  expect_error([&] { validate_settings(s); }, {"setting bn-decay must be in (0, 1), got 1"});
  s = TrainSettings{};
  s.momentum_style = MomentumStyle::caffe;
  EXPECT_NO_THROW(validate_settings(s));
  s.nesterov = true;
  expect_error([&] { validate_settings(s); }, {"nesterov", "momentum-style", "caffe"});
}

// Every row reads back what it writes: each preset's settings.toml, parsed row by row into default settings, gives
// the same file. (TOML strings and lists are unwrapped into the words the command line would pass.)
TEST(TrainSettingsTest, EveryRowParsesWhatItWrites) {
  auto words_of = [](std::string text) {
    std::vector<std::string> words;
    if (text.size() >= 2 && text.front() == '"') return std::vector<std::string>{text.substr(1, text.size() - 2)};
    if (!text.empty() && text.front() == '[') text = text.substr(1, text.size() - 2);
    std::string word;
    for (char ch : text + ",") {
      if (ch == ',') {
        if (!word.empty()) words.push_back(word);
        word.clear();
      } else if (ch != ' ') {
        word += ch;
      }
    }
    return words;
  };
  for (const TrainPreset& preset : training_presets().entries()) {
    SCOPED_TRACE(preset.name);
    TrainSettings copy;
    for (const TrainSetting& row : train_settings().entries()) row.parse(copy, words_of(row.to_toml(preset.settings)));
    EXPECT_EQ(settings_to_toml(copy), settings_to_toml(preset.settings));
    if (copy.data_root.empty()) copy.data_root = "/data";  // the VOC presets leave the folder to the user
    EXPECT_NO_THROW(validate_settings(copy));
  }
  // Names are the option names: lower case words joined by dashes, unique (the registry rejects duplicates).
  for (const TrainSetting& row : train_settings().entries()) {
    EXPECT_EQ(row.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz-"), std::string::npos) << row.name;
    EXPECT_FALSE(row.help.empty()) << row.name;
  }
}

TEST(TrainSettingsTest, TranslateIntoLibraryOptions) {
  TrainSettings s;
  s.dataset = "camvid";
  s.data_root = "/data/camvid";
  s.val_split = "val";
  s.train_limit = 7;
  s.batch_size = 3;
  s.crop_height = 100;
  s.crop_width = 120;
  s.scale_min = 0.5;
  s.scale_max = 1.5;
  s.flip = false;
  s.seed = 17;
  s.max_iterations = 500;
  s.lr = 0.02;
  s.lr_policy = LrSchedule::step;
  s.lr_step_size = 100;
  s.lr_gamma = 0.5;
  s.warmup_iterations = 10;
  s.nesterov = true;
  s.iter_size = 2;
  s.validate_every = 50;
  s.val_scales = {0.5, 1.0};
  s.val_flip = true;
  s.bn_mode = TrainBnMode::frozen;

  const DatasetSpec train = train_dataset_spec(s);
  EXPECT_EQ(train.kind, "camvid");
  EXPECT_EQ(train.root, "/data/camvid");
  EXPECT_EQ(train.split, "train");
  EXPECT_EQ(train.limit, 7);
  EXPECT_EQ(val_dataset_spec(s).split, "val");
  EXPECT_EQ(val_dataset_spec(s).limit, 0);

  const LoaderOptions l = loader_options(s, caffe_bgr_preprocessing());
  EXPECT_EQ(l.batch_size, 3);
  EXPECT_EQ(l.augmentation.crop_height, 100);
  EXPECT_EQ(l.augmentation.crop_width, 120);
  EXPECT_DOUBLE_EQ(l.augmentation.scale_max, 1.5);
  EXPECT_FALSE(l.augmentation.flip);
  EXPECT_TRUE(l.preprocessing.bgr);
  EXPECT_EQ(l.seed, 17u);

  const TrainerOptions t = trainer_options(s);
  EXPECT_EQ(t.max_iterations, 500);
  EXPECT_EQ(t.iter_size, 2);
  EXPECT_TRUE(t.sgd.nesterov);
  EXPECT_EQ(t.lr_policy.kind, LrSchedule::step);
  EXPECT_DOUBLE_EQ(t.lr_policy.lr_at(250), 0.02 * 0.25);
  EXPECT_EQ(t.lr_policy.warmup_iterations, 10);
  ASSERT_TRUE(t.bn.has_value());
  EXPECT_EQ(t.bn->mode, BnPolicyMode::frozen);
  EXPECT_EQ(t.validate_every, 50);
  EXPECT_EQ(t.validation.scales, (std::vector<double>{0.5, 1.0}));
  EXPECT_TRUE(t.validation.flip);
  EXPECT_EQ(t.dropout_seed, 17u);

  EXPECT_EQ(model_options(s, 11).num_classes, 11);
  s.num_classes = 5;
  EXPECT_EQ(model_options(s, 11).num_classes, 5);
  s.bn_mode = TrainBnMode::model;
  EXPECT_FALSE(trainer_options(s).bn.has_value());
}

TEST(TrainSettingsTest, DeviceIsSpelledLikeTheOptionAndReachesTrainingAndValidation) {
  TrainSettings s;
  EXPECT_EQ(s.device, "cpu");
  for (const TrainPreset& p : training_presets().entries()) EXPECT_EQ(p.settings.device, "cpu") << p.name;
  EXPECT_EQ(trainer_options(s).device, Device::cpu());
  // Only the spelling is checked here, so a GPU run's settings print and validate on any machine.
  s.device = "cuda:1";
  EXPECT_NO_THROW(validate_settings(s));
  const TrainerOptions t = trainer_options(s);
  EXPECT_EQ(t.device, Device::cuda(1));
  EXPECT_EQ(t.validation.device, Device::cuda(1));
  EXPECT_NE(settings_to_toml(s).find("device = \"cuda:1\"\n"), std::string::npos);
  s.device = "gpu";
  expect_error([&] { validate_settings(s); }, {"setting device = 'gpu'", "cpu, cuda", "cuda:N"});
}

TEST(TrainSettingsTest, TomlListsEverySettingUnderItsOptionName) {
  const std::string toml = settings_to_toml(training_preset("deeplabv3-voc").settings);
  for (const char* line : {"model = \"resnet101-deeplabv3\"\n", "batch-size = 16\n", "crop-height = 513\n",
                           "lr = 0.007\n", "bn-mode = \"decay\"\n", "bn-decay = 0.9997\n", "scale-max = 2\n",
                           "flip = true\n", "val-scales = [1]\n", "max-iterations = 30000\n"})
    EXPECT_NE(toml.find(line), std::string::npos) << line << "\n" << toml;
}

namespace {

// Two 2x2 label maps, classes {0,1,2}, ignore 9.
class TwoImages : public SegmentationDataset {
 public:
  int64_t size() const override { return 2; }
  LabeledImage get(int64_t index) const override {
    LabeledImage s;
    s.image = Tensor::zeros({2, 2, 3}, DType::u8);
    s.label = index == 0 ? Tensor::from_vector<uint8_t>({0, 0, 0, 1}, {2, 2})
                         : Tensor::from_vector<uint8_t>({0, 2, 9, 2}, {2, 2});
    s.id = std::to_string(index);
    return s;
  }
  int num_classes() const override { return 3; }
  int ignore_index() const override { return 9; }
  std::string palette_name() const override { return "voc"; }
  std::string describe() const override { return "two images"; }
};

}  // namespace

TEST(ClassWeights, MedianFrequencyBalancingByHand) {
  // Class 0: 4 pixels over the 4 + 3 valid pixels of the images it is in -> 4/7. Class 1: 1/4 (image 0 only).
  // Class 2: 2/3 (image 1 only). Median 4/7: weights 1, (4/7)/(1/4) = 16/7, (4/7)/(2/3) = 6/7.
  const std::vector<float> w = median_frequency_weights(TwoImages());
  ASSERT_EQ(w.size(), 3u);
  EXPECT_FLOAT_EQ(w[0], 1.0f);
  EXPECT_FLOAT_EQ(w[1], 16.0f / 7.0f);
  EXPECT_FLOAT_EQ(w[2], 6.0f / 7.0f);
}
