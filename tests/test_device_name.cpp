// Devices as `--device` and config files spell them: the accepted forms, errors that name the text and list the
// forms, and the availability check (a CPU-only build says it has no CUDA and how to get it; an index past the
// visible devices says how many there are).
#include <gtest/gtest.h>

#include <string>

#include "core/cuda_runtime.h"
#include "core/device_name.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;

TEST(DeviceName, AcceptsCpuCudaAndCudaWithAnIndex) {
  EXPECT_EQ(device_from_name("cpu"), Device::cpu());
  EXPECT_EQ(device_from_name("cuda"), Device::cuda(0));
  EXPECT_EQ(device_from_name("cuda:0"), Device::cuda(0));
  EXPECT_EQ(device_from_name("cuda:3").index, 3);
  EXPECT_TRUE(device_from_name("cuda:3").is_cuda());
  EXPECT_EQ(device_from_name("cuda:12").index, 12);
  // What Device::str() writes reads back as the same device.
  for (const Device d : {Device::cpu(), Device::cuda(0), Device::cuda(7)}) EXPECT_EQ(device_from_name(d.str()), d);
}

TEST(DeviceName, RejectsOtherSpellingsNamingTheTextAndTheAcceptedForms) {
  for (const std::string text : {"", "gpu", "CPU", "Cuda", "cuda:", "cuda:-1", "cuda:+1", "cuda:1x", "cuda0", " cpu",
                                 "cpu ", "cuda:0:1", "cuda:99999", "cpu:0"}) {
    SCOPED_TRACE("'" + text + "'");
    expect_error([&] { device_from_name(text); }, {"device '" + text + "'", "cpu, cuda", "cuda:N"});
  }
}

TEST(DeviceName, ErrorsNameWhereTheTextCameFrom) {
  expect_error([] { device_from_name("gpu", "--device"); }, {"--device 'gpu' is not a device"});
  expect_error([] { parse_device("tpu", "--device"); }, {"--device 'tpu'", "cuda:N"});
}

TEST(DeviceAvailability, TheCpuIsAlwaysThere) {
  EXPECT_NO_THROW(require_device_available(Device::cpu(), "test"));
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
}

TEST(DeviceAvailability, CudaInACpuOnlyBuildSaysTheBuildHasNoCuda) {
  if (cuda::built_with_cuda()) GTEST_SKIP() << "this build has CUDA: the CPU-only message cannot be provoked";
  expect_error([] { parse_device("cuda", "--device"); },
               {"--device cuda", "cuda:0 is not available", "no CUDA support", "-DATROUS_CUDA=ON", "only cpu"});
  expect_error([] { require_device_available(Device::cuda(2), "Trainer"); }, {"Trainer: cuda:2", "no CUDA support"});
}

TEST(DeviceAvailability, AnIndexPastTheVisibleDevicesSaysHowManyThereAre) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible (or CPU-only build): CUDA test skipped";
  const int count = cuda_device_count();
  const std::string last = "cuda:" + std::to_string(count - 1), past = "cuda:" + std::to_string(count);
  EXPECT_EQ(parse_device(last), Device::cuda(count - 1));
  EXPECT_EQ(parse_device("cuda"), Device::cuda(0));
  expect_error([&] { parse_device(past, "--device"); },
               {"--device " + past, past + " is not available", std::to_string(count) + " CUDA device"});
}
