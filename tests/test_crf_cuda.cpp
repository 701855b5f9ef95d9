// The dense CRF on CUDA against the CPU implementation (the oracle): lattice filters, full mean field with Potts and
// matrix compatibilities and each normalisation, lattice sizes. GPU tests skip with a reason when no device is
// visible (or the build has no CUDA); the error a CPU-only user gets is tested everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "crf/cuda_dense_crf.h"
#include "crf/dense_crf.h"
#include "crf/permutohedral_lattice.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::crf;

#define REQUIRE_GPU() ATROUS_REQUIRE_CUDA()

namespace {

Tensor noisy_image(int h, int w, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0f, 10.0f);
  Tensor img = Tensor::empty({h, w, 3}, DType::u8);
  uint8_t* p = img.data<uint8_t>();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const float base = ((x / 17 + y / 13) % 3) * 70.0f + 30.0f * c;
        p[(y * w + x) * 3 + c] = static_cast<uint8_t>(std::clamp(base + noise(gen), 0.0f, 255.0f));
      }
  return img;
}

Tensor random_unary(int h, int w, int labels, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 3.0f);
  Tensor t = Tensor::empty({h, w, labels});
  for (int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] = u(gen) + ((k / labels) % 7 == k % labels ? 0.0f : 1.0f);
  return t;
}

}  // namespace

TEST(CrfCuda, WithoutAGpuTheErrorSaysWhy) {
  if (crf::cuda::available()) GTEST_SKIP() << "a CUDA device is visible: the no-GPU error cannot be provoked";
  atrous::testing::expect_error([] { crf::cuda::dense_crf_cuda(noisy_image(4, 4, 1), random_unary(4, 4, 2, 1), {}); },
                                {"CUDA"});
  float x = 0, y = 0;
  atrous::testing::expect_error([&] { crf::cuda::lattice_filter_cuda(&x, 1, 2, &x, &y, 1); }, {"CUDA"});
}

TEST(CrfCuda, LatticeFilterMatchesCpu) {
  REQUIRE_GPU();
  const int h = 60, w = 70, n = h * w;
  const Tensor image = noisy_image(h, w, 2);
  for (int d : {2, 5}) {
    const std::vector<float> f = d == 2 ? gaussian_features(h, w, 3.0f) : bilateral_features(image, 20.0f, 8.0f);
    const PermutohedralLattice cpu = PermutohedralLattice::build(f.data(), n, d);
    for (int64_t stride : {1, 3, 24}) {
      std::mt19937 gen(stride);
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      std::vector<float> in(n * stride), out_cpu(n * stride), out_gpu(n * stride);
      for (float& v : in) v = u(gen);
      HostArray<float> scratch;
      cpu.filter(in.data(), out_cpu.data(), stride, nullptr, nullptr, scratch);
      int64_t points = 0;
      crf::cuda::lattice_filter_cuda(f.data(), n, d, in.data(), out_gpu.data(), stride, 0, &points);
      EXPECT_EQ(points, cpu.num_points()) << "d=" << d;
      for (size_t k = 0; k < in.size(); ++k)
        ASSERT_NEAR(out_gpu[k], out_cpu[k], 1e-4 * (1 + std::fabs(out_cpu[k]))) << "d=" << d << " stride=" << stride;
    }
  }
}

TEST(CrfCuda, MeanFieldMatchesCpu) {
  REQUIRE_GPU();
  const int h = 75, w = 100, labels = 21;
  const Tensor image = noisy_image(h, w, 3);
  const Tensor unary = random_unary(h, w, labels, 4);
  std::vector<float> mu(labels * labels);
  for (int l = 0; l < labels; ++l)
    for (int k = 0; k < labels; ++k) mu[l * labels + k] = l == k ? 0.0f : 0.5f + 0.5f * ((l + k) % 3);
  for (KernelNormalization norm : {KernelNormalization::symmetric, KernelNormalization::after}) {
    for (bool matrix : {false, true}) {
      DenseCrfParams p;  // DeepLab-LargeFOV's parameters
      p.normalization = norm;
      if (matrix) p.bilateral_compatibility = mu;
      const Tensor cpu = dense_crf_inference(image, unary, p).probabilities;
      crf::cuda::CudaCrfStats stats;
      const Tensor gpu = crf::cuda::dense_crf_cuda(image, unary, p, 0, &stats);
      atrous::testing::expect_close(gpu, cpu, 2e-3);
      int64_t same = 0;
      for (int64_t i = 0; i < h * w; ++i) {
        const float* a = cpu.data<float>() + i * labels;
        const float* b = gpu.data<float>() + i * labels;
        same += std::max_element(a, a + labels) - a == std::max_element(b, b + labels) - b;
      }
      EXPECT_GE(double(same) / (h * w), 0.999) << normalization_name(norm) << (matrix ? " matrix" : " potts");
      ASSERT_EQ(stats.lattice_points.size(), 2u);
      EXPECT_EQ(stats.lattice_points[0], make_gaussian_kernel(h, w, p.gaussian_xy, norm)->lattice().num_points());
      EXPECT_EQ(stats.lattice_points[1],
                make_bilateral_kernel(image, p.bilateral_xy, p.bilateral_rgb, norm)->lattice().num_points());
      EXPECT_GT(stats.device_bytes, 0u);
    }
  }
}

TEST(CrfCuda, BadInputIsAnError) {
  REQUIRE_GPU();
  const Tensor image = noisy_image(8, 9, 1);
  atrous::testing::expect_error([&] { crf::cuda::dense_crf_cuda(image, random_unary(8, 10, 3, 1), {}); },
                                {"matching the image", "f32[8,10,3]"});
  DenseCrfParams p;
  p.bilateral_rgb = 0.0f;
  atrous::testing::expect_error([&] { crf::cuda::dense_crf_cuda(image, random_unary(8, 9, 3, 1), p); }, {"sigma_rgb"});
  std::vector<float> f(8 * 7, 0.0f), v(8, 1.0f), out(8);
  atrous::testing::expect_error([&] { crf::cuda::lattice_filter_cuda(f.data(), 8, 7, v.data(), out.data(), 1); },
                                {"dimension 7"});
  atrous::testing::expect_error([&] { crf::cuda::dense_crf_cuda(image, random_unary(8, 9, 3, 1), {}, 99); },
                                {"cuda:99"});
}
