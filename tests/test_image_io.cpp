// PNG/JPEG decode and encode, label maps, palettes, and clear errors for bad files.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/atrous.h"
#include "data/image_io.h"
#include "data/palette.h"
#include "data/preprocessing.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;
namespace fs = std::filesystem;

namespace {

class ImageIo : public ScratchDirTest {};

Tensor gradient_image(int64_t h, int64_t w) {
  Tensor img = Tensor::empty({h, w, 3}, DType::u8);
  uint8_t* p = img.data<uint8_t>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      p[(y * w + x) * 3 + 0] = static_cast<uint8_t>(x * 255 / (w - 1));
      p[(y * w + x) * 3 + 1] = static_cast<uint8_t>(y * 255 / (h - 1));
      p[(y * w + x) * 3 + 2] = static_cast<uint8_t>((x + y) % 256);
    }
  return img;
}

}  // namespace

TEST_F(ImageIo, PngRoundTripIsExact) {
  Tensor img = gradient_image(13, 17);
  write_png(path("a.png"), img);
  Tensor back = read_image_rgb(path("a.png"));
  EXPECT_EQ(back.shape(), (Shape{13, 17, 3}));
  EXPECT_EQ(back.to_double_vector(), img.to_double_vector());
  EXPECT_FALSE(fs::exists(path("a.png.tmp")));
}

TEST_F(ImageIo, GreyPngReadsAsRgbAndAsLabels) {
  Tensor grey = Tensor::from_vector<uint8_t>({0, 1, 2, 11, 255, 7}, {2, 3});
  write_png(path("g.png"), grey);
  Tensor labels = read_label_png(path("g.png"));
  EXPECT_EQ(labels.shape(), (Shape{2, 3}));
  EXPECT_EQ(labels.to_double_vector(), grey.to_double_vector());
  Tensor rgb = read_image_rgb(path("g.png"));
  EXPECT_EQ(rgb.shape(), (Shape{2, 3, 3}));
  EXPECT_EQ(rgb.to_double_vector()[3 * 3 + 1], 11.0);
}

TEST_F(ImageIo, PalettePngKeepsIndicesAndExpandsColours) {
  Tensor labels = Tensor::from_vector<uint8_t>({0, 1, 2, 255, 15, 1}, {3, 2});
  const Palette& voc = palette_by_name("voc");
  write_palette_png(path("p.png"), labels, voc.colours);
  EXPECT_EQ(read_label_png(path("p.png")).to_double_vector(), labels.to_double_vector());
  Tensor rgb = read_image_rgb(path("p.png"));
  const std::vector<double> v = rgb.to_double_vector();
  EXPECT_EQ(v[3 * 1 + 0], 128);  // class 1 (aeroplane) is (128, 0, 0)
  EXPECT_EQ(v[3 * 1 + 1], 0);
  EXPECT_EQ(v[3 * 3 + 0], 224);  // 255 = void boundary colour
}

TEST_F(ImageIo, JpegRoundTripIsClose) {
  Tensor img = gradient_image(32, 48);
  write_jpeg(path("a.jpg"), img, 98);
  Tensor back = read_image_rgb(path("a.jpg"));
  ASSERT_EQ(back.shape(), img.shape());
  const auto a = img.to_double_vector(), b = back.to_double_vector();
  double err = 0;
  for (size_t i = 0; i < a.size(); ++i) err += std::abs(a[i] - b[i]);
  EXPECT_LT(err / a.size(), 4.0);
}

TEST_F(ImageIo, BadFilesNameTheFile) {
  expect_error([&] { read_image_rgb(path("missing.png")); }, {"missing.png"});
  std::ofstream(path("text.png")) << "this is not an image at all";
  expect_error([&] { read_image_rgb(path("text.png")); }, {"text.png"});
  // A PNG cut in half.
  write_png(path("whole.png"), gradient_image(64, 64));
  const auto size = fs::file_size(path("whole.png"));
  fs::copy_file(path("whole.png"), path("cut.png"));
  fs::resize_file(path("cut.png"), size / 2);
  expect_error([&] { read_image_rgb(path("cut.png")); }, {"cut.png"});
  // A JPEG cut short.
  write_jpeg(path("whole.jpg"), gradient_image(64, 64));
  fs::copy_file(path("whole.jpg"), path("cut.jpg"));
  fs::resize_file(path("cut.jpg"), 200);
  expect_error([&] { read_image_rgb(path("cut.jpg")); }, {"cut.jpg"});
  fs::copy_file(path("whole.jpg"), path("half.jpg"));
  fs::resize_file(path("half.jpg"), fs::file_size(path("whole.jpg")) * 6 / 10);  // header intact, scan data cut
  expect_error([&] { read_image_rgb(path("half.jpg")); }, {"half.jpg"});
  // Colour images and JPEGs are not label maps.
  expect_error([&] { read_label_png(path("whole.png")); }, {"colour PNG"});
  expect_error([&] { read_label_png(path("whole.jpg")); }, {"JPEG"});
  expect_error([&] { write_png(path("x.png"), Tensor::zeros({2, 2, 3})); }, {"u8"});
  expect_error([&] { write_png(path("nodir/x.png"), gradient_image(4, 4)); }, {"nodir/x.png"});
}

TEST(Palette, ColouriseOverlayAndLookup) {
  const Palette& camvid = palette_by_name("camvid");
  EXPECT_EQ(camvid.class_names.size(), 12u);
  Tensor labels = Tensor::from_vector<int32_t>({3, 255}, {1, 2});
  Tensor colours = colourise(labels, camvid);
  EXPECT_EQ(colours.to_double_vector(), (std::vector<double>{128, 64, 128, 0, 0, 0}));
  Tensor image = Tensor::full({1, 2, 3}, 100, DType::u8);
  Tensor blended = overlay(image, labels, camvid, 0.5);
  EXPECT_EQ(blended.to_double_vector()[0], 114);  // (100 + 128) / 2
  EXPECT_EQ(palette_by_name("cityscapes").colours.size(), 19u);
  expect_error([] { palette_by_name("ade20k"); }, {"voc, camvid, cityscapes"});
}

TEST(Preprocessing, CaffeBgrAndImagenetRgb) {
  Tensor pixel = Tensor::from_vector<uint8_t>({10, 20, 30}, {1, 1, 3});
  const auto caffe = preprocess(pixel, caffe_bgr_preprocessing()).to_double_vector();
  EXPECT_NEAR(caffe[0], 30 - 104.008, 1e-4);  // blue first
  EXPECT_NEAR(caffe[2], 10 - 122.675, 1e-4);
  const auto tv = preprocess(pixel, imagenet_rgb_preprocessing()).to_double_vector();
  EXPECT_NEAR(tv[0], (10 / 255.0 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(tv[2], (30 / 255.0 - 0.406) / 0.225, 1e-5);
  EXPECT_EQ(preprocess(pixel, caffe_bgr_preprocessing()).shape(), (Shape{1, 1, 1, 3}));
  EXPECT_THROW(preprocess(Tensor::zeros({2, 2}, DType::u8), caffe_bgr_preprocessing()), Error);
}
