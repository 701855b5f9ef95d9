// CUDA storage: copies to and from a device round-trip exactly. Skips with a reason when no GPU is present.
#include <gtest/gtest.h>

#include "core/atrous.h"
#include "core/cuda_runtime.h"
#include "support/test_helpers.h"

using namespace atrous;

#define REQUIRE_GPU() ATROUS_REQUIRE_CUDA()

TEST(CudaRuntime, RoundTripKeepsValues) {
  REQUIRE_GPU();
  Generator gen(3);
  Tensor host = Tensor::randn({2, 5, 7, 3}, gen);
  Tensor device = host.to(Device::cuda(0));
  EXPECT_TRUE(device.device().is_cuda());
  EXPECT_EQ(device.shape(), host.shape());
  Tensor back = device.to(Device::cpu());
  EXPECT_EQ(back.to_double_vector(), host.to_double_vector());
  EXPECT_EQ(Tensor::zeros({4}, DType::f32, Device::cuda(0)).to(Device::cpu()).to_double_vector(),
            std::vector<double>(4, 0.0));
}

TEST(CudaRuntime, HostOnlyTensorMethodsSayWhy) {
  REQUIRE_GPU();
  Tensor a = Tensor::ones({3}, DType::f32, Device::cuda(0));
  try {
    a.fill_(2.0);
    FAIL() << "fill_ on a CUDA tensor must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fill_"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
}

TEST(CudaRuntime, StatsAreAnErrorWithoutCuda) {
  if (cuda::built_with_cuda()) GTEST_SKIP() << "CUDA build: the allocator exists";
  EXPECT_THROW(cuda::allocator_stats(0), Error);
}

TEST(CudaRuntime, MissingDeviceIsAnError) {
  EXPECT_THROW(Tensor::ones({2}).to(Device::cuda(cuda_device_count())), Error);
}

TEST(CudaRuntime, PinnedTensorsCopyWithoutWaitingAndBlocksAreReusedOnlyAfterTheirCopies) {
  REQUIRE_GPU();
  Generator gen(5);
  Tensor pinned = Tensor::empty_pinned({3, 50, 7});
  ASSERT_TRUE(pinned.is_pinned());
  EXPECT_TRUE(pinned.device().is_cpu());
  pinned.copy_(Tensor::randn({3, 50, 7}, gen));
  const std::vector<double> values = pinned.to_double_vector();
  Tensor on_device = pinned.to(Device::cuda(0), /*non_blocking=*/true);
  EXPECT_TRUE(on_device.device().is_cuda());
  const void* block = pinned.raw_data();
  pinned = Tensor();  // freed while its copy may still be queued: the block must not be handed out before it ran
  EXPECT_EQ(on_device.to_double_vector(), values);
  cuda::synchronize(0);
  Tensor again = Tensor::empty_pinned({3, 50, 7});
  EXPECT_EQ(again.raw_data(), block) << "a freed pinned block is reused once its copies have run";
  // A view or a blocking copy of pinned memory is an ordinary copy.
  EXPECT_EQ(again.slice(1, 0, 10).to(Device::cuda(0), true).shape(), Shape({3, 10, 7}));
}
