// Datasets on small generated folders shaped like VOC, CamVid and Cityscapes: what they read, how they map labels,
// and the errors for missing, corrupt and mismatched files and bad label values; the synthetic dataset's splits.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/atrous.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "data/palette.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;
namespace fs = std::filesystem;

namespace {

// An image whose pixels differ per sample (`salt`) and vary smoothly, so JPEG keeps them close.
Tensor test_image(int64_t h, int64_t w, int salt) {
  Tensor img = Tensor::empty({h, w, 3}, DType::u8);
  uint8_t* p = img.data<uint8_t>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      p[(y * w + x) * 3 + 0] = static_cast<uint8_t>(40 + 4 * x + salt);
      p[(y * w + x) * 3 + 1] = static_cast<uint8_t>(60 + 4 * y);
      p[(y * w + x) * 3 + 2] = static_cast<uint8_t>(100 + 10 * salt);
    }
  return img;
}

// Labels cycling through `values` in vertical stripes.
Tensor test_label(int64_t h, int64_t w, const std::vector<uint8_t>& values) {
  Tensor lab = Tensor::empty({h, w}, DType::u8);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) lab.data<uint8_t>()[y * w + x] = values[(x / 3 + y) % values.size()];
  return lab;
}

double mean_abs_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = a.to_double_vector(), vb = b.to_double_vector();
  double sum = 0;
  for (size_t i = 0; i < va.size(); ++i) sum += std::abs(va[i] - vb[i]);
  return sum / static_cast<double>(va.size());
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// A 16-bit greyscale PNG built by hand (stored deflate blocks, so no zlib needed): our writer only writes 8 bits,
// but label maps from other tools sometimes come as 16-bit PNGs.
uint32_t crc32(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string big_endian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return big_endian32(static_cast<uint32_t>(data.size())) + type + data + big_endian32(crc32(type + data));
}

std::string grey16_png(int64_t h, int64_t w, const std::vector<uint16_t>& values) {
  std::string raw;  // filter byte 0 per row, then big-endian samples
  for (int64_t y = 0; y < h; ++y) {
    raw += '\0';
    for (int64_t x = 0; x < w; ++x) {
      const uint16_t v = values[(y * w + x) % values.size()];
      raw += static_cast<char>(v >> 8);
      raw += static_cast<char>(v & 0xFF);
    }
  }
  uint32_t a = 1, b = 0;  // Adler-32 of the uncompressed data
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  const uint16_t len = static_cast<uint16_t>(raw.size()), nlen = static_cast<uint16_t>(~len);
  const std::string zlib = std::string("\x78\x01\x01", 3) + static_cast<char>(len & 0xFF) +
                           static_cast<char>(len >> 8) + static_cast<char>(nlen & 0xFF) + static_cast<char>(nlen >> 8) +
                           raw + big_endian32((b << 16) | a);
  const std::string ihdr = big_endian32(static_cast<uint32_t>(w)) + big_endian32(static_cast<uint32_t>(h)) +
                           std::string("\x10\x00\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", zlib) +
         png_chunk("IEND", "");
}

class Datasets : public ScratchDirTest {
 protected:
  std::string root() const { return dir().string(); }
  void mkdir(const std::string& rel) const { fs::create_directories(dir() / rel); }

  // VOC: ids a, b, c with palette PNG labels (VOC's own format) holding 0, 5, 20 and the 255 border.
  void make_voc(const std::string& label_dir = "SegmentationClass") const {
    mkdir("JPEGImages");
    mkdir(label_dir);
    const char* ids[] = {"2007_000001", "2007_000002", "2007_000003"};
    for (int i = 0; i < 3; ++i) {
      write_jpeg(path(std::string("JPEGImages/") + ids[i] + ".jpg"), test_image(10 + i, 14, i));
      write_palette_png(path(label_dir + "/" + ids[i] + ".png"), test_label(10 + i, 14, {0, 5, 20, 255}),
                        palette_by_name("voc").colours);
    }
    write_text(path("ImageSets/Segmentation/train.txt"), "2007_000001\n2007_000002\n\n2007_000003\n");
    write_text(path("ImageSets/Segmentation/val.txt"), "2007_000002\n");
  }

  // CamVid: two pairs in train/ + trainannot/ and a list file; labels use 0..10 and the void value 11.
  void make_camvid() const {
    mkdir("train");
    mkdir("trainannot");
    for (int i = 0; i < 2; ++i) {
      const std::string name = "0001TP_00" + std::to_string(i);
      write_jpeg(path("train/" + name + ".jpg"), test_image(12, 16, i));
      write_png(path("trainannot/" + name + ".png"), test_label(12, 16, {0, 3, 10, 11}));
    }
    write_text(path("train.txt"),
               "train/0001TP_000.jpg trainannot/0001TP_000.png\n"
               "train/0001TP_001.jpg   trainannot/0001TP_001.png\n");
  }

  // Cityscapes: two cities, three images (PNG like the real set), labelIds with evaluated and ignored ids.
  void make_cityscapes() const {
    const char* names[][2] = {
        {"bremen", "bremen_000001_000019"}, {"aachen", "aachen_000000_000019"}, {"aachen", "aachen_000001_000019"}};
    for (int i = 0; i < 3; ++i) {
      mkdir(std::string("leftImg8bit/train/") + names[i][0]);
      mkdir(std::string("gtFine/train/") + names[i][0]);
      write_png(path(std::string("leftImg8bit/train/") + names[i][0] + "/" + names[i][1] + "_leftImg8bit.png"),
                test_image(8, 16, i));
      write_png(path(std::string("gtFine/train/") + names[i][0] + "/" + names[i][1] + "_gtFine_labelIds.png"),
                test_label(8, 16, {7, 26, 0, 33, 255, 9}));
      // The other gtFine files the real set ships must not confuse the reader.
      write_png(path(std::string("gtFine/train/") + names[i][0] + "/" + names[i][1] + "_gtFine_color.png"),
                test_image(8, 16, i));
    }
  }

  std::unique_ptr<SegmentationDataset> open(const std::string& kind, const std::string& split = "train") const {
    DatasetSpec spec;
    spec.kind = kind;
    spec.root = root();
    spec.split = split;
    return open_dataset(spec);
  }
};

}  // namespace

TEST_F(Datasets, VocReadsListedPairsWithPaletteIndices) {
  make_voc();
  auto ds = open("voc");
  EXPECT_EQ(ds->size(), 3);
  EXPECT_EQ(ds->num_classes(), 21);
  EXPECT_EQ(ds->ignore_index(), 255);
  EXPECT_EQ(ds->palette_name(), "voc");
  EXPECT_NE(ds->describe().find("voc"), std::string::npos);
  EXPECT_NE(ds->describe().find("3 images"), std::string::npos);
  const LabeledImage s = ds->get(1);
  EXPECT_EQ(s.id, "2007_000002");
  EXPECT_EQ(s.image.shape(), (Shape{11, 14, 3}));
  EXPECT_EQ(s.image.dtype(), DType::u8);
  EXPECT_EQ(s.label.shape(), (Shape{11, 14}));
  EXPECT_EQ(s.label.to_double_vector(), test_label(11, 14, {0, 5, 20, 255}).to_double_vector());
  EXPECT_LT(mean_abs_difference(s.image, test_image(11, 14, 1)), 3.0);  // JPEG is lossy, but not that lossy
  EXPECT_EQ(open("voc", "val")->size(), 1);
}

TEST_F(Datasets, VocAugmentedLabelsAndTwoColumnLists) {
  make_voc("SegmentationClassAug");
  DatasetSpec spec{"voc", root(), "train", true};
  EXPECT_EQ(open_dataset(spec)->get(2).label.shape(), (Shape{12, 14}));
  // Without `augmented` the reader looks for SegmentationClass/, which this folder lacks.
  expect_error([&] { open("voc"); }, {"missing file", "SegmentationClass/2007_000001.png", "train.txt' line 1"});
  // DeepLab's train_aug.txt style: "IMAGE LABEL" with leading slashes.
  write_text(path("ImageSets/Segmentation/train_aug.txt"),
             "/JPEGImages/2007_000003.jpg /SegmentationClassAug/2007_000003.png\n");
  spec.split = "train_aug";
  auto ds = open_dataset(spec);
  ASSERT_EQ(ds->size(), 1);
  EXPECT_EQ(ds->get(0).id, "2007_000003");
}

TEST_F(Datasets, VocMissingListOrFileIsAnErrorNamingIt) {
  make_voc();
  expect_error([&] { open("voc", "trainval"); }, {"voc", "ImageSets/Segmentation/trainval.txt"});
  fs::remove(path("JPEGImages/2007_000003.jpg"));
  expect_error([&] { open("voc"); }, {"missing file", "JPEGImages/2007_000003.jpg", "train.txt' line 4"});
  DatasetSpec spec{"voc", path("nowhere"), "train"};
  expect_error([&] { open_dataset(spec); }, {"nowhere", "does not exist"});
}

TEST_F(Datasets, VocLabelOutsideClassesIsAnErrorNamingFileAndValue) {
  make_voc();
  write_png(path("SegmentationClass/2007_000002.png"), test_label(11, 14, {0, 21}));
  auto ds = open("voc");
  EXPECT_NO_THROW(ds->get(0));
  expect_error([&] { ds->get(1); }, {"SegmentationClass/2007_000002.png", "value 21", "0..20", "255"});
}

TEST_F(Datasets, CamvidReadsListAndKeepsVoid) {
  make_camvid();
  auto ds = open("camvid");
  ASSERT_EQ(ds->size(), 2);
  EXPECT_EQ(ds->num_classes(), 11);
  EXPECT_EQ(ds->ignore_index(), 11);
  EXPECT_EQ(ds->palette_name(), "camvid");
  const LabeledImage s = ds->get(1);
  EXPECT_EQ(s.id, "0001TP_001");
  EXPECT_EQ(s.image.shape(), (Shape{12, 16, 3}));
  EXPECT_EQ(s.label.to_double_vector(), test_label(12, 16, {0, 3, 10, 11}).to_double_vector());
  EXPECT_LT(mean_abs_difference(s.image, test_image(12, 16, 1)), 3.0);
  expect_error([&] { ds->get(2); }, {"index 2", "[0, 2)"});
}

TEST_F(Datasets, CamvidLimitKeepsTheFirstImages) {
  make_camvid();
  DatasetSpec spec{"camvid", root(), "train"};
  spec.limit = 1;
  auto ds = open_dataset(spec);
  ASSERT_EQ(ds->size(), 1);
  EXPECT_EQ(ds->get(0).id, "0001TP_000");
}

TEST_F(Datasets, CamvidBadListsAreErrorsNamingTheLine) {
  make_camvid();
  write_text(path("val.txt"), "train/0001TP_000.jpg trainannot/0001TP_000.png\ntrain/0001TP_001.jpg\n");
  expect_error([&] { open("camvid", "val"); }, {"val.txt", "line 2", "IMAGE LABEL"});
  write_text(path("val.txt"), "train/0001TP_000.jpg trainannot/missing.png\n");
  expect_error([&] { open("camvid", "val"); }, {"missing file", "trainannot/missing.png", "val.txt' line 1"});
  write_text(path("val.txt"), "\n\n");
  expect_error([&] { open("camvid", "val"); }, {"val.txt", "no images"});
  expect_error([&] { open("camvid", "test"); }, {"test.txt"});
}

TEST_F(Datasets, CorruptImagesAndLabelsAreErrorsNamingTheFile) {
  make_camvid();
  // A JPEG cut in half, and a label that is not an image at all.
  const std::string jpeg = read_bytes(path("train/0001TP_000.jpg"));
  write_raw("train/0001TP_000.jpg", jpeg.substr(0, jpeg.size() / 2));
  write_raw("trainannot/0001TP_001.png", "not a png at all");
  auto ds = open("camvid");  // open checks existence only, not contents
  expect_error([&] { ds->get(0); }, {"train/0001TP_000.jpg"});
  expect_error([&] { ds->get(1); }, {"trainannot/0001TP_001.png"});
}

TEST_F(Datasets, ImageAndLabelOfDifferentSizesIsAnErrorNamingBoth) {
  make_camvid();
  write_png(path("trainannot/0001TP_001.png"), test_label(12, 15, {1}));
  auto ds = open("camvid");
  expect_error([&] { ds->get(1); }, {"train/0001TP_001.jpg", "16x12", "trainannot/0001TP_001.png", "15x12"});
}

TEST_F(Datasets, CamvidLabelAboveVoidIsAnError) {
  make_camvid();
  write_png(path("trainannot/0001TP_000.png"), test_label(12, 16, {2, 2, 12}));
  expect_error([&] { open("camvid")->get(0); }, {"trainannot/0001TP_000.png", "value 12", "0..10", "ignore value 11"});
}

TEST_F(Datasets, SixteenBitLabelMapsKeepTheirValues) {
  make_camvid();
  write_raw("trainannot/0001TP_000.png", grey16_png(12, 16, {0, 3, 10, 11, 7}));
  write_raw("trainannot/0001TP_001.png", grey16_png(12, 16, {2, 300}));
  auto ds = open("camvid");
  Tensor expected = Tensor::empty({12, 16}, DType::u8);
  const uint8_t values[] = {0, 3, 10, 11, 7};
  for (int64_t i = 0; i < 12 * 16; ++i) expected.data<uint8_t>()[i] = values[i % 5];
  EXPECT_TRUE(bitwise_equal(ds->get(0).label, expected));
  expect_error([&] { ds->get(1); }, {"trainannot/0001TP_001.png", "16-bit", "value 300"});
}

TEST_F(Datasets, CityscapesMapsLabelIdsToTrainIds) {
  make_cityscapes();
  auto ds = open("cityscapes");
  ASSERT_EQ(ds->size(), 3);
  EXPECT_EQ(ds->num_classes(), 19);
  EXPECT_EQ(ds->ignore_index(), 255);
  EXPECT_EQ(ds->palette_name(), "cityscapes");
  // Sorted by path: aachen before bremen.
  EXPECT_EQ(ds->get(0).id, "aachen_000000_000019");
  EXPECT_EQ(ds->get(2).id, "bremen_000001_000019");
  // road 7 -> 0, car 26 -> 13, unlabeled 0 -> 255, bicycle 33 -> 18, 255 stays, parking 9 -> 255.
  const LabeledImage s = ds->get(1);
  EXPECT_EQ(s.image.shape(), (Shape{8, 16, 3}));
  EXPECT_EQ(s.label.to_double_vector(), test_label(8, 16, {0, 13, 255, 18, 255, 255}).to_double_vector());
  EXPECT_EQ(s.image.to_double_vector(), test_image(8, 16, 2).to_double_vector());  // PNG: exact; written third
}

TEST_F(Datasets, CityscapesMissingLabelAndUnknownIdAreErrors) {
  make_cityscapes();
  write_png(path("gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png"), test_label(8, 16, {7, 40}));
  expect_error([&] { open("cityscapes")->get(1); }, {"aachen_000001_000019_gtFine_labelIds.png", "value 40"});
  fs::remove(path("gtFine/train/bremen/bremen_000001_000019_gtFine_labelIds.png"));
  expect_error([&] { open("cityscapes"); },
               {"missing file", "gtFine/train/bremen/bremen_000001_000019_gtFine_labelIds.png",
                "bremen_000001_000019_leftImg8bit.png"});
  expect_error([&] { open("cityscapes", "val"); }, {"leftImg8bit/val", "does not exist"});
}

TEST_F(Datasets, ConcurrentReadsGiveTheSameSamples) {
  make_voc();
  auto ds = open("voc");
  std::vector<LabeledImage> serial;
  for (int64_t i = 0; i < ds->size(); ++i) serial.push_back(ds->get(i));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round)
        for (int64_t i = 0; i < ds->size(); ++i) {
          const LabeledImage s = ds->get((i + t) % ds->size());
          const LabeledImage& ref = serial[(i + t) % ds->size()];
          if (!same_bits(s.image, ref.image) || !same_bits(s.label, ref.label)) ++mismatches[t];
        }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(SyntheticDataset, DeterministicWithDisjointSplits) {
  DatasetSpec spec;
  spec.kind = "synthetic";
  spec.synthetic_size = 32;
  spec.synthetic_classes = 5;
  spec.synthetic_count = 6;
  auto train = open_dataset(spec);
  auto again = open_dataset(spec);
  spec.split = "val";
  auto val = open_dataset(spec);
  EXPECT_EQ(train->size(), 6);
  EXPECT_EQ(train->num_classes(), 5);
  for (int64_t i = 0; i < 6; ++i) {
    const LabeledImage a = train->get(i), b = again->get(i), v = val->get(i);
    EXPECT_EQ(a.image.shape(), (Shape{32, 32, 3}));
    EXPECT_EQ(a.image.dtype(), DType::u8);
    EXPECT_TRUE(same_bits(a.image, b.image));
    EXPECT_TRUE(same_bits(a.label, b.label));
    for (int64_t j = 0; j < 6; ++j) EXPECT_FALSE(same_bits(val->get(j).image, a.image)) << i << " vs val " << j;
    for (double l : a.label.to_double_vector()) ASSERT_LT(l, 5.0);
    EXPECT_NE(a.id, v.id);
  }
  spec.split = "test";
  expect_error([&] { open_dataset(spec); }, {"synthetic", "'test'"});
}

TEST(SyntheticDataset, SeedChangesTheImages) {
  DatasetSpec spec;
  spec.kind = "synthetic";
  spec.synthetic_size = 16;
  auto a = open_dataset(spec);
  spec.synthetic_seed = 2;
  EXPECT_FALSE(same_bits(a->get(0).image, open_dataset(spec)->get(0).image));
}

TEST(OpenDataset, UnknownKindListsTheKnownOnes) {
  DatasetSpec spec;
  spec.kind = "kitti";
  expect_error([&] { open_dataset(spec); }, {"kitti", "voc", "camvid", "cityscapes", "synthetic"});
}

// The real CamVid copy, when this machine has it: list sizes, image size and label range as its README states.
TEST(RealCamvid, OpensAndReadsWhenPresent) {
  const char* env = std::getenv("ATROUS_CAMVID_ROOT");
  const std::string root = env ? env : "/work/shared/data/camvid";
  if (!fs::exists(root + "/train.txt")) GTEST_SKIP() << "no CamVid at " << root;
  DatasetSpec spec{"camvid", root, "val"};
  auto ds = open_dataset(spec);
  EXPECT_EQ(ds->size(), 101);
  const LabeledImage s = ds->get(0);
  EXPECT_EQ(s.image.shape(), (Shape{360, 480, 3}));
  for (double l : s.label.to_double_vector()) ASSERT_LE(l, 11.0);
}
