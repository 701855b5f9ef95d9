// The CUDA device features the simulator emulates, and the problems its checkers must catch, through test-only
// kernels (tests/cuda/test_kernels.cu). Correctness cases run on any CUDA device; the planted-bug cases need the
// simulator (a GPU would race or crash instead of reporting), exact-extent memcheck needs its ASan build.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "core/atrous.h"
#include "core/cuda_runtime.h"
#include "kernels/cuda/device_algorithms.h"
#include "support/test_helpers.h"
#include "tests/cuda/test_kernels.h"

using namespace atrous;
using atrous::testing::expect_error;
namespace k = atrous::testing::cuda_kernels;

#define REQUIRE_GPU() ATROUS_REQUIRE_CUDA()
#define REQUIRE_SIMULATOR() \
  REQUIRE_GPU();            \
  if (!cuda::is_simulator()) GTEST_SKIP() << "a planted bug is only reported by the CUDA simulator"

namespace {

const Device kGpu = Device::cuda(0);

Tensor gpu_zeros(int64_t n, DType dtype = DType::f32) { return Tensor::zeros({n}, dtype, kGpu); }

std::vector<double> host(const Tensor& t) { return t.to_double_vector(); }

}  // namespace

TEST(CudaSim, BlockReductionWithBarriersIsRight) {
  REQUIRE_GPU();
  Generator gen(1);
  Tensor x = Tensor::uniform({3 * 256}, -1, 1, gen);
  Tensor out = gpu_zeros(3);
  k::block_sums(x.to(kGpu).data<float>(), out.data<float>(), 3, true);
  const auto xs = host(x), sums = host(out);
  for (int b = 0; b < 3; ++b) {
    const double expected = std::accumulate(xs.begin() + b * 256, xs.begin() + (b + 1) * 256, 0.0);
    EXPECT_NEAR(sums[b], expected, 1e-4) << "block " << b;
  }
}

TEST(CudaSim, MissingSyncthreadsIsARaceNamingKernelAndThreads) {
  REQUIRE_SIMULATOR();
  Tensor x = Tensor::ones({256}, DType::f32, kGpu), out = gpu_zeros(1);
  expect_error([&] { k::block_sums(x.data<float>(), out.data<float>(), 1, false); },
               {"block_sums_kernel", "race on shared memory", "block (0,0,0)", "thread (", "no __syncthreads between"});
}

TEST(CudaSim, OffByOneStoreIsCaught) {
  REQUIRE_SIMULATOR();
  if (!cuda::simulator_checks_exact_extents())
    GTEST_SKIP() << "exact tensor extents are checked by the simulator's AddressSanitizer build (CI's)";
  Tensor y = gpu_zeros(1000);
  expect_error([&] { k::store_one_past_the_end(y.data<float>(), 1000); },
               {"store_kernel", "invalid write of 4 bytes", "outside every live tensor"});
}

TEST(CudaSim, UseOfFreedDeviceMemoryIsCaught) {
  REQUIRE_SIMULATOR();
  if (!cuda::simulator_checks_exact_extents())
    GTEST_SKIP() << "freed blocks are checked by the simulator's AddressSanitizer build (CI's)";
  float* dangling = nullptr;
  {
    Tensor y = gpu_zeros(4096);
    dangling = y.data<float>();
  }
  expect_error([&] { k::fill_on_stream(dangling, 16, 1.0f, nullptr); }, {"fill_kernel", "invalid write"});
}

TEST(CudaSim, BarrierInDivergentCodeIsReportedNotAHang) {
  REQUIRE_SIMULATOR();
  Tensor y = gpu_zeros(64);
  expect_error([&] { k::divergent_barrier(y.data<float>()); },
               {"divergent_barrier_kernel", "__syncthreads", "exited without reaching it"});
}

TEST(CudaSim, WarpShuffleWithMissingLanesIsReportedNotAHang) {
  REQUIRE_SIMULATOR();
  Tensor y = gpu_zeros(32);
  expect_error([&] { k::divergent_shuffle(y.data<float>()); }, {"divergent_shuffle_kernel", "warp collective"});
}

TEST(CudaSim, KernelReadingHostMemoryIsAnError) {
  REQUIRE_SIMULATOR();
  std::vector<float> on_host(4, 1.0f);
  Tensor y = gpu_zeros(4);
  expect_error([&] { k::read_host_pointer(on_host.data(), y.data<float>()); }, {"read_kernel", "host memory"});
}

TEST(CudaSim, HostCodeDereferencingDevicePointerFaults) {
  REQUIRE_SIMULATOR();
  Tensor y = Tensor::ones({16}, DType::f32, kGpu);
  const float* device_pointer = y.data<float>();
  EXPECT_DEATH(
      {
        volatile float v = device_pointer[3];
        (void)v;
      },
      "");
}

TEST(CudaSim, UninitialisedSharedMemoryReadIsReported) {
  REQUIRE_SIMULATOR();
  Tensor y = gpu_zeros(64);
  expect_error([&] { k::uninitialised_shared_read(y.data<float>()); },
               {"uninitialised_kernel", "uninitialised read of shared memory"});
}

TEST(CudaSim, DynamicSharedMemoryWorksAndIsRaceChecked) {
  REQUIRE_GPU();
  Generator gen(2);
  const int n = 96;
  Tensor x = Tensor::uniform({2 * n}, -1, 1, gen), y = gpu_zeros(2 * n);
  k::reverse_in_dynamic_shared(x.to(kGpu).data<float>(), y.data<float>(), n, true);
  const auto xs = host(x), ys = host(y);
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < n; ++i) EXPECT_EQ(ys[b * n + i], xs[b * n + n - 1 - i]) << b << "," << i;
  if (!cuda::is_simulator()) return;
  expect_error([&] { k::reverse_in_dynamic_shared(x.to(kGpu).data<float>(), y.data<float>(), n, false); },
               {"reverse_kernel", "shared memory"});  // a race, or a read before the write: both reported
}

TEST(CudaSim, WarpShufflesVotesAndSyncwarpBehaveAsOnTheDevice) {
  REQUIRE_GPU();
  std::vector<int32_t> x(64);
  for (int l = 0; l < 64; ++l) x[l] = (l * 37 + 11) % 97;
  x[40] = 150;  // only the second warp has a value > 100
  Tensor out = gpu_zeros(64 * 8, DType::i32);
  k::warp_primitives(Tensor::from_vector<int32_t>(x, {64}).to(kGpu).data<int32_t>(), out.data<int32_t>());
  const auto got = host(out);
  for (int l = 0; l < 64; ++l) {
    const int w = l / 32 * 32, lane = l % 32;
    uint32_t ballot = 0;
    bool any = false;
    for (int j = 0; j < 32; ++j) {
      ballot |= uint32_t(x[w + j] & 1) << j;
      any = any || x[w + j] > 100;
    }
    const double expected[8] = {double(x[lane + 1 < 32 ? l + 1 : l]),
                                double(x[lane >= 2 ? l - 2 : l]),
                                double(x[w + (lane ^ 5)]),
                                double(x[w + (lane & ~7) + 3]),
                                double(int32_t(ballot)),
                                double(any),
                                1.0,
                                double(x[w + (lane + 1) % 32])};
    for (int k2 = 0; k2 < 8; ++k2) EXPECT_EQ(got[l * 8 + k2], expected[k2]) << "lane " << l << " value " << k2;
  }
}

TEST(CudaSim, AtomicsAddUpAcrossBlocksAndSpinWaitsMakeProgress) {
  REQUIRE_GPU();
  Tensor counter = gpu_zeros(1, DType::i32);
  k::atomic_count(counter.data<int32_t>(), 40);
  EXPECT_EQ(host(counter)[0], 40 * 256);
  Tensor flag = gpu_zeros(1, DType::i32), out = gpu_zeros(2, DType::i32);
  k::spin_handoff(flag.data<int32_t>(), out.data<int32_t>());
  EXPECT_EQ(host(out), (std::vector<double>{41, 42}));
}

TEST(CudaSim, InvalidLaunchConfigurationNamesTheKernel) {
  REQUIRE_GPU();
  Tensor y = gpu_zeros(1);
  expect_error([&] { k::launch_with_block(2048, y.data<float>()); }, {"trivial_kernel", "2048 threads"});
  k::launch_with_block(1024, y.data<float>());
  EXPECT_EQ(host(y)[0], 1.0);
}

TEST(CudaSim, StreamsSharingMemoryNeedAnEvent) {
  REQUIRE_GPU();
  void* a = k::create_stream();
  void* b = k::create_stream();
  Tensor y = gpu_zeros(1000);
  cuda::synchronize(0);  // the zeroing on the device stream is done before either stream starts
  k::fill_on_stream(y.data<float>(), 1000, 1.0f, a);
  k::make_wait(b, a);  // b is ordered after a's fill
  k::fill_on_stream(y.data<float>(), 1000, 2.0f, b);
  if (cuda::is_simulator()) {
    // Back on a without waiting for b: a hazard.
    expect_error([&] { k::fill_on_stream(y.data<float>(), 1000, 3.0f, a); }, {"fill_kernel", "stream-order hazard"});
  }
  k::destroy_stream(a);
  k::destroy_stream(b);
}

// The scan and radix sort that replace cub in the CUDA lattice, against the standard library.
TEST(CudaSim, ExclusiveSumMatchesTheHost) {
  REQUIRE_GPU();
  std::mt19937 gen(5);
  for (int64_t n : {1, 7, 1024, 1025, 5000, 300000}) {
    std::vector<int32_t> in(n);
    for (auto& v : in) v = static_cast<int32_t>(gen() % 3);
    Tensor din = Tensor::from_vector<int32_t>(in, {n}).to(kGpu), dout = gpu_zeros(n, DType::i32);
    kernels::cuda::exclusive_sum(0, din.data<int32_t>(), dout.data<int32_t>(), n);
    std::vector<double> expected(n);
    double running = 0;
    for (int64_t i = 0; i < n; ++i) {
      expected[i] = running;
      running += in[i];
    }
    EXPECT_EQ(host(dout), expected) << "n = " << n;
  }
}

TEST(CudaSim, RadixSortIsStableAndMatchesStableSort) {
  REQUIRE_GPU();
  std::mt19937 gen(6);
  for (auto [n, bits] : std::vector<std::pair<int64_t, int>>{{1, 1}, {100, 3}, {1024, 9}, {5000, 13}, {70000, 17}}) {
    std::vector<int32_t> keys(n), values(n);
    for (int64_t i = 0; i < n; ++i) {
      keys[i] = static_cast<int32_t>(gen() % (uint32_t(1) << bits));
      values[i] = static_cast<int32_t>(i);
    }
    Tensor dk = Tensor::from_vector<int32_t>(keys, {n}).to(kGpu),
           dv = Tensor::from_vector<int32_t>(values, {n}).to(kGpu);
    Tensor sk = gpu_zeros(n, DType::i32), sv = gpu_zeros(n, DType::i32);
    kernels::cuda::radix_sort_pairs(0, dk.data<int32_t>(), sk.data<int32_t>(), dv.data<int32_t>(), sv.data<int32_t>(),
                                    n, bits);
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
    std::vector<double> expected_keys(n), expected_values(n);
    for (int64_t i = 0; i < n; ++i) {
      expected_keys[i] = keys[order[i]];
      expected_values[i] = static_cast<double>(order[i]);
    }
    EXPECT_EQ(host(sk), expected_keys) << "n = " << n;
    EXPECT_EQ(host(sv), expected_values) << "n = " << n << " (stability)";
    EXPECT_EQ(host(dk), std::vector<double>(keys.begin(), keys.end())) << "inputs must be left unchanged";
  }
}
