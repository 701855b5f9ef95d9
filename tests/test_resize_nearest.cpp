// resize_nearest: hand-computed label maps in both corner conventions, channels kept together, bits copied
// unchanged (NaN included), the identity size, and argument errors. CUDA against the CPU, and the other geometries,
// run from the op case table (tests/op_cases/resize_nearest.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/atrous.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;
using atrous::testing::same_bits;

namespace {

// 4x4 labels 0..15, row-major.
Tensor ramp_labels() {
  std::vector<int32_t> v(16);
  for (int i = 0; i < 16; ++i) v[i] = i;
  return Tensor::from_vector<int32_t>(v, {1, 4, 4});
}

TEST(ResizeNearest, HalvingPicksThePixelBilinearWouldSampleFirst) {
  // Half-pixel centres: output 0 samples at 0.5 -> rounds to 1; output 1 at 2.5 -> 3.
  EXPECT_EQ(resize_nearest(ramp_labels(), 2, 2, false).to_double_vector(), (std::vector<double>{5, 7, 13, 15}));
  // Corners aligned: outputs 0 and 1 sample at 0 and 3.
  EXPECT_EQ(resize_nearest(ramp_labels(), 2, 2, true).to_double_vector(), (std::vector<double>{0, 3, 12, 15}));
}

TEST(ResizeNearest, UpsamplingRepeatsPixelsAndKeepsTheCorners) {
  const Tensor x = Tensor::from_vector<uint8_t>({1, 2, 3, 4}, {1, 2, 2});
  // align_corners: 2 -> 3 samples at 0, 0.5, 1 -> rows 0, 1, 1 (half rounds up).
  EXPECT_EQ(resize_nearest(x, 3, 3, true).to_double_vector(), (std::vector<double>{1, 2, 2, 3, 4, 4, 3, 4, 4}));
  // Half-pixel: 2 -> 4 samples at 0 (clamped), 0.25, 0.75, 1.25 -> 0, 0, 1, 1.
  EXPECT_EQ(resize_nearest(x, 4, 4, false).to_double_vector(),
            (std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
  EXPECT_EQ(resize_nearest(x, 3, 3, true).dtype(), DType::u8);
}

TEST(ResizeNearest, ChannelsMoveTogetherAndBitsAreCopied) {
  // [1,1,2,3]: two pixels of three channels; a NaN with a payload must come through unchanged.
  std::vector<float> v{1.5f, -2.0f, NAN, 4.0f, 5.0f, 6.0f};
  const uint32_t payload = 0x7fc00123u;
  std::memcpy(&v[2], &payload, sizeof payload);
  const Tensor x = Tensor::from_vector<float>(v, {1, 1, 2, 3});
  const Tensor y = resize_nearest(x, 1, 4, false);  // columns 0, 0, 1, 1
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 3}));
  const float* out = y.data<float>();
  uint32_t copied = 0;
  std::memcpy(&copied, &out[3 + 2], sizeof copied);
  EXPECT_EQ(copied, payload);
  EXPECT_EQ(out[6], 4.0f);
  EXPECT_EQ(out[11], 6.0f);
}

TEST(ResizeNearest, TheSameSizeIsACopyOfEveryDtype) {
  Generator gen(3);
  const Tensor f = Tensor::uniform({2, 5, 3, 2}, -1, 1, gen, DType::f64);
  EXPECT_TRUE(same_bits(resize_nearest(f, 5, 3, true), f));
  EXPECT_TRUE(same_bits(resize_nearest(ramp_labels(), 4, 4, false), ramp_labels()));
}

TEST(ResizeNearest, BadArgumentsNameTheOp) {
  expect_error([] { resize_nearest(Tensor::zeros({4, 4}, DType::u8), 2, 2, true); },
               {"resize_nearest", "[N,H,W] or [N,H,W,C]"});
  expect_error([] { resize_nearest(ramp_labels(), 0, 2, true); }, {"resize_nearest", "0x2"});
  expect_error([] { resize_nearest(Tensor::zeros({1, 0, 4}, DType::u8), 2, 2, true); },
               {"resize_nearest", "no pixels"});
  Tensor x = Tensor::ones({1, 2, 2, 1});
  x.set_requires_grad(true);
  expect_error([&] { resize_nearest(x, 4, 4, false); }, {"resize_nearest", "not differentiable", "resize_bilinear"});
  NoGradGuard no_grad;
  EXPECT_NO_THROW(resize_nearest(x, 4, 4, false)) << "no graph is being recorded, so nothing is cut";
}

}  // namespace
