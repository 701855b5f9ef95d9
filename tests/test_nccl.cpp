// The NCCL backend on a real GPU (tools/gpu_run.sh runs this): a one-rank NCCL communicator (bootstrapped by a
// single process instead of MPI) initialises on the device and reduces and broadcasts device tensors in place on the
// device's stream. Several ranks need several GPUs, which no machine here has: the multi-rank logic is the MPI
// path's (tests/mpi/), exercised in CI. Skips (with the reason) without a GPU or in a build without NCCL.
#include <gtest/gtest.h>

#include "core/atrous.h"
#include "dist/communicator.h"
#include "dist/nccl_communicator.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;

TEST(Nccl, OneRankReducesAndBroadcastsDeviceTensorsInPlace) {
  if (!dist::nccl_built()) GTEST_SKIP() << "this build has no NCCL backend (CUDA build with nccl.h and libnccl)";
  ATROUS_REQUIRE_CUDA();
  auto comm = dist::make_nccl(std::make_shared<dist::SingleProcess>(), 0);
  EXPECT_EQ(comm->backend(), "nccl");
  EXPECT_EQ(comm->size(), 1);
  Generator gen(3);
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor host = Tensor::randn({1000, 7}, gen, dtype);
    Tensor device = host.to(Device::cuda(0));
    comm->all_reduce_tensor(device);  // one rank: the sum is the tensor itself
    comm->broadcast_tensor(device, 0);
    EXPECT_TRUE(same_bits(device.to(Device::cpu()), host));
  }
  // Host memory goes through the bootstrap communicator.
  double value = 2.5;
  comm->all_reduce_sum(&value, 1);
  EXPECT_EQ(value, 2.5);
}

TEST(Nccl, WithoutNcclTheErrorSaysWhat) {
  if (dist::nccl_built()) GTEST_SKIP() << "this build has NCCL";
  expect_error([] { dist::make_nccl(std::make_shared<dist::SingleProcess>(), 0); }, {"no NCCL backend"});
}
