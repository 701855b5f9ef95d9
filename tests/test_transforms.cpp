// Augmentation geometry: labels stay on the pixels they describe through scale, flip, pad and crop; flips mirror;
// padding normalises to zero with the ignore label; crops land where the draw says; draws are reproducible.
#include <gtest/gtest.h>

#include <cmath>

#include "core/atrous.h"
#include "data/transforms.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;

namespace {

constexpr int kCoordScale = 4;  // colour = 4 * coordinate: distinct, and bilinear of a ramp is the ramp

// The label of source pixel (y, x): a step of one pixel in any direction changes it.
uint8_t coord_label(int64_t y, int64_t x) { return static_cast<uint8_t>((5 * y + x) % 13); }

// Red encodes x, green encodes y, blue is constant; the label is coord_label.
LabeledImage coordinate_sample(int64_t h, int64_t w) {
  LabeledImage s{Tensor::empty({h, w, 3}, DType::u8), Tensor::empty({h, w}, DType::u8), "coords"};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      uint8_t* p = s.image.data<uint8_t>() + (y * w + x) * 3;
      p[0] = static_cast<uint8_t>(kCoordScale * x);
      p[1] = static_cast<uint8_t>(kCoordScale * y);
      p[2] = 9;
      s.label.data<uint8_t>()[y * w + x] = coord_label(y, x);
    }
  return s;
}

// Whether some source pixel within half a pixel (plus rounding) of the sampled position carries `label`.
bool label_matches_position(double sy, double sx, uint8_t label, int64_t h, int64_t w) {
  constexpr double kEps = 1e-3;
  for (int64_t ny = static_cast<int64_t>(std::floor(sy - 0.5 - kEps)); ny <= sy + 0.5 + kEps; ++ny)
    for (int64_t nx = static_cast<int64_t>(std::floor(sx - 0.5 - kEps)); nx <= sx + 0.5 + kEps; ++nx) {
      if (ny < 0 || nx < 0 || ny >= h || nx >= w) continue;
      if (std::abs(ny - sy) <= 0.5 + kEps && std::abs(nx - sx) <= 0.5 + kEps && coord_label(ny, nx) == label)
        return true;
    }
  return false;
}

Tensor pixel(const Tensor& image, int64_t y, int64_t x) { return image.slice(0, y, y + 1).slice(1, x, x + 1); }

}  // namespace

TEST(Transforms, DrawsAreReproducibleAndInRange) {
  AugmentOptions o;
  o.scale_min = 0.5;
  o.scale_max = 2.0;
  int flips = 0;
  for (uint64_t stream = 0; stream < 1000; ++stream) {
    const AugmentDraw a = draw_augmentation(o, 7, stream), b = draw_augmentation(o, 7, stream);
    EXPECT_EQ(a.scale, b.scale);
    EXPECT_EQ(a.flip, b.flip);
    EXPECT_EQ(a.crop_y, b.crop_y);
    EXPECT_EQ(a.crop_x, b.crop_x);
    ASSERT_GE(a.scale, 0.5);
    ASSERT_LE(a.scale, 2.0);
    ASSERT_GE(a.crop_y, 0.0);
    ASSERT_LT(a.crop_y, 1.0);
    ASSERT_GE(a.crop_x, 0.0);
    ASSERT_LT(a.crop_x, 1.0);
    flips += a.flip;
  }
  EXPECT_GT(flips, 400);
  EXPECT_LT(flips, 600);
  EXPECT_NE(draw_augmentation(o, 7, 0).scale, draw_augmentation(o, 7, 1).scale);
  EXPECT_NE(draw_augmentation(o, 7, 0).scale, draw_augmentation(o, 8, 0).scale);

  o.flip = false;
  o.random_crop = false;
  o.scale_min = o.scale_max = 1.0;
  for (uint64_t stream = 0; stream < 50; ++stream) {
    const AugmentDraw d = draw_augmentation(o, 7, stream);
    EXPECT_FALSE(d.flip);
    EXPECT_EQ(d.scale, 1.0);
    EXPECT_EQ(d.crop_y, 0.5);
    EXPECT_EQ(d.crop_x, 0.5);
  }
}

// The central property: after any scale, flip, pad and crop, each label sits on the pixel whose colour (which
// encodes its source position) it describes, and every padded pixel is zero with the ignore label.
TEST(Transforms, LabelsStayAlignedWithPixelsUnderEveryDraw) {
  const int64_t h = 37, w = 53;
  const LabeledImage sample = coordinate_sample(h, w);
  AugmentOptions o;
  o.crop_height = 30;
  o.crop_width = 44;
  o.scale_min = 0.4;
  o.scale_max = 2.2;
  const Preprocessing identity;  // RGB, x1, mean 0, std 1: the output is the resampled colour itself
  int flipped = 0, padded_draws = 0;
  for (uint64_t stream = 0; stream < 150; ++stream) {
    const AugmentDraw d = draw_augmentation(o, 3, stream);
    const TransformedSample t = augment_sample(sample, o, d, identity, 255);
    ASSERT_EQ(t.image.shape(), (Shape{30, 44, 3}));
    ASSERT_EQ(t.label.shape(), (Shape{30, 44}));
    const float* img = t.image.data<float>();
    const uint8_t* lab = t.label.data<uint8_t>();
    int64_t padded = 0;
    for (int64_t y = 0; y < 30; ++y)
      for (int64_t x = 0; x < 44; ++x) {
        const float* p = img + (y * 44 + x) * 3;
        const uint8_t l = lab[y * 44 + x];
        if (l == 255) {
          ++padded;
          ASSERT_EQ(p[0], 0.0f);
          ASSERT_EQ(p[1], 0.0f);
          ASSERT_EQ(p[2], 0.0f);
          // Padding is at the bottom/right: everything below or right of a padded pixel is padded too.
          if (y + 1 < 30) {
            ASSERT_EQ(lab[(y + 1) * 44 + x], 255);
          }
          if (x + 1 < 44) {
            ASSERT_EQ(lab[y * 44 + x + 1], 255);
          }
          continue;
        }
        ASSERT_NEAR(p[2], 9.0f, 1e-3) << "stream " << stream;
        const double sx = p[0] / kCoordScale, sy = p[1] / kCoordScale;
        ASSERT_TRUE(label_matches_position(sy, sx, l, h, w))
            << "stream " << stream << " scale " << d.scale << " flip " << d.flip << ": output (" << y << ", " << x
            << ") samples source (" << sy << ", " << sx << ") but has label " << int(l);
      }
    // A flipped crop runs right to left through the source (compare the ends of the first row's image part).
    int64_t valid_w = 0;
    while (valid_w < 44 && lab[valid_w] != 255) ++valid_w;
    if (valid_w >= 2 && img[0] != img[(valid_w - 1) * 3]) {
      EXPECT_EQ(img[(valid_w - 1) * 3] < img[0], d.flip) << "stream " << stream;
    }
    flipped += d.flip;
    padded_draws += padded > 0;
  }
  EXPECT_GT(flipped, 20);        // both branches were exercised
  EXPECT_GT(padded_draws, 20);   // small scales pad
  EXPECT_LT(padded_draws, 140);  // large scales crop
}

TEST(Transforms, FlipMirrorsImageAndLabel) {
  const LabeledImage s = coordinate_sample(6, 9);
  AugmentOptions o;
  o.crop_height = 6;
  o.crop_width = 9;
  const Preprocessing p = caffe_bgr_preprocessing();
  AugmentDraw d;
  const TransformedSample plain = augment_sample(s, o, d, p, 255);
  EXPECT_TRUE(bitwise_equal(plain.image, preprocess(s.image, p).reshape({6, 9, 3})));
  EXPECT_TRUE(bitwise_equal(plain.label, s.label));
  d.flip = true;
  const TransformedSample flipped = augment_sample(s, o, d, p, 255);
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < 9; ++x) {
      EXPECT_TRUE(bitwise_equal(pixel(flipped.image, y, x), pixel(plain.image, y, 8 - x)));
      EXPECT_EQ(flipped.label.data<uint8_t>()[y * 9 + x], plain.label.data<uint8_t>()[y * 9 + 8 - x]);
    }
}

TEST(Transforms, PaddingNormalisesToZeroWithTheIgnoreLabel) {
  const LabeledImage s = coordinate_sample(5, 7);
  AugmentOptions o;
  o.crop_height = 9;
  o.crop_width = 10;
  const Preprocessing p = caffe_bgr_preprocessing();
  AugmentDraw d;
  d.crop_y = 0.99;  // no free range: the draw cannot move the window
  d.crop_x = 0.7;
  d.flip = true;
  const TransformedSample t = augment_sample(s, o, d, p, 11);
  const Tensor expected = preprocess(s.image, p).reshape({5, 7, 3});
  for (int64_t y = 0; y < 9; ++y)
    for (int64_t x = 0; x < 10; ++x) {
      const uint8_t l = t.label.data<uint8_t>()[y * 10 + x];
      if (y < 5 && x < 7) {
        EXPECT_TRUE(bitwise_equal(pixel(t.image, y, x), pixel(expected, y, 6 - x))) << y << "," << x;
        EXPECT_EQ(l, coord_label(y, 6 - x));
      } else {
        EXPECT_EQ(l, 11);
        EXPECT_EQ(pixel(t.image, y, x).to_double_vector(), std::vector<double>(3, 0.0));
      }
    }
}

TEST(Transforms, CropWindowFollowsTheDraw) {
  const LabeledImage s = coordinate_sample(10, 12);
  AugmentOptions o;
  o.crop_height = 4;
  o.crop_width = 5;
  const Preprocessing identity;
  // Free range 6 rows, 7 columns: fraction f picks offset floor(f * (free + 1)).
  const struct {
    double fy, fx;
    int64_t top, left;
  } cases[] = {{0.0, 0.0, 0, 0}, {0.999, 0.999, 6, 7}, {0.5, 0.5, 3, 4}, {0.3, 0.9, 2, 7}};
  for (const auto& c : cases) {
    AugmentDraw d;
    d.crop_y = c.fy;
    d.crop_x = c.fx;
    const TransformedSample t = augment_sample(s, o, d, identity, 255);
    EXPECT_EQ(t.image.data<float>()[0], kCoordScale * c.left) << c.fy << "," << c.fx;
    EXPECT_EQ(t.image.data<float>()[1], kCoordScale * c.top) << c.fy << "," << c.fx;
    EXPECT_EQ(t.label.data<uint8_t>()[0], coord_label(c.top, c.left));
    EXPECT_EQ(t.label.data<uint8_t>()[3 * 5 + 4], coord_label(c.top + 3, c.left + 4));
  }
  // Without random crops the window is centred.
  o.random_crop = false;
  o.flip = false;
  o.scale_min = o.scale_max = 1.0;
  const AugmentDraw centred = draw_augmentation(o, 1, 0);
  const TransformedSample t = augment_sample(s, o, centred, identity, 255);
  EXPECT_EQ(t.label.data<uint8_t>()[0], coord_label(3, 4));
}

TEST(Transforms, ScaleResizesImageBilinearAndLabelNearest) {
  const LabeledImage s = coordinate_sample(10, 12);
  AugmentOptions o;
  o.crop_height = 8;
  o.crop_width = 8;
  AugmentDraw d;
  d.scale = 0.5;  // 5x6, padded to 8x8
  const TransformedSample t = augment_sample(s, o, d, Preprocessing{}, 255);
  for (int64_t y = 0; y < 8; ++y)
    for (int64_t x = 0; x < 8; ++x) {
      const uint8_t l = t.label.data<uint8_t>()[y * 8 + x];
      if (y >= 5 || x >= 6) {
        EXPECT_EQ(l, 255);
        continue;
      }
      // Half-pixel centres at ratio 2: output y samples source 2y + 0.5, a 50/50 blend of rows 2y and 2y + 1;
      // the nearest label is row floor(2y + 1) = 2y + 1.
      EXPECT_FLOAT_EQ(t.image.data<float>()[(y * 8 + x) * 3 + 1], kCoordScale * (2 * y + 0.5f));
      EXPECT_FLOAT_EQ(t.image.data<float>()[(y * 8 + x) * 3 + 0], kCoordScale * (2 * x + 0.5f));
      EXPECT_EQ(l, coord_label(2 * y + 1, 2 * x + 1));
    }
}

TEST(Transforms, SameDrawSameOutput) {
  const LabeledImage s = coordinate_sample(20, 24);
  AugmentOptions o;
  o.crop_height = 16;
  o.crop_width = 16;
  const Preprocessing p = imagenet_rgb_preprocessing();
  const TransformedSample a = augment_sample(s, o, draw_augmentation(o, 5, 11), p, 255);
  const TransformedSample b = augment_sample(s, o, draw_augmentation(o, 5, 11), p, 255);
  const TransformedSample c = augment_sample(s, o, draw_augmentation(o, 5, 12), p, 255);
  EXPECT_TRUE(bitwise_equal(a.image, b.image));
  EXPECT_TRUE(bitwise_equal(a.label, b.label));
  EXPECT_FALSE(same_bits(a.image, c.image));
}

TEST(Transforms, NormaliseSampleKeepsTheWholeImage) {
  const LabeledImage s = coordinate_sample(7, 5);
  const Preprocessing p = imagenet_rgb_preprocessing();
  const TransformedSample t = normalise_sample(s, p);
  EXPECT_TRUE(bitwise_equal(t.image, preprocess(s.image, p).reshape({7, 5, 3})));
  EXPECT_TRUE(bitwise_equal(t.label, s.label));
}

TEST(Transforms, BadInputsAreErrors) {
  LabeledImage s = coordinate_sample(6, 8);
  AugmentOptions o;
  AugmentDraw d;
  s.label = Tensor::zeros({6, 7}, DType::u8);
  expect_error([&] { augment_sample(s, o, d, Preprocessing{}, 255); }, {"augment_sample", "'coords'", "[6,8]"});
  expect_error([&] { normalise_sample(s, Preprocessing{}); }, {"normalise_sample", "'coords'"});
  s = coordinate_sample(6, 8);
  o.crop_width = 0;
  expect_error([&] { augment_sample(s, o, d, Preprocessing{}, 255); }, {"crop size", "321x0"});
  o.crop_width = 8;
  o.scale_min = 2.0;
  o.scale_max = 1.0;
  expect_error([&] { draw_augmentation(o, 1, 0); }, {"scale range", "2..1"});
  o.scale_min = o.scale_max = 1.0;
  d.scale = -1;
  expect_error([&] { augment_sample(s, o, d, Preprocessing{}, 255); }, {"scale", "-1"});
}
