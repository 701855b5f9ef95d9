// A simulated kernel launch: queued on its stream as one operation (device_state.h), device memory opened for the
// duration, the grid's blocks spread over OpenMP threads (each host thread has its own BlockRunner, fiber stacks and
// shared memory), and everything the checkers found turned into one atrous::Error naming the kernel.
#include <omp.h>

#include <memory>

#include "core/error.h"
#include "kernels/cuda/sim/block_runner.h"
#include "kernels/cuda/sim/device_state.h"
#include "kernels/cuda/sim/sim_settings.h"

namespace atrous::sim {
namespace {

BlockRunner& this_threads_runner() {
  thread_local std::unique_ptr<BlockRunner> runner;  // one per host thread, for its lifetime
  if (!runner) runner = std::make_unique<BlockRunner>();
  return *runner;
}

std::string format_dim(dim3 d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

}  // namespace

void run_kernel(const LaunchSpec& spec, void (*entry)(const void*)) {
  const dim3 g = spec.grid, b = spec.block;
  const uint64_t threads = uint64_t(b.x) * b.y * b.z;
  ATROUS_CHECK(threads >= 1 && threads <= 1024 && g.x >= 1 && g.y >= 1 && g.z >= 1, "CUDA simulator: launch of ",
               spec.name, " with grid ", format_dim(g), " and block ", format_dim(b), " is not a valid configuration");
  int device = 0;
  cudaGetDevice(&device);
  const StreamOp op = begin_op(spec.stream, std::string("kernel ") + spec.name);
  ATROUS_CHECK(op.device == device, "CUDA simulator: kernel ", spec.name, " launched on a stream of cuda:", op.device,
               " while cuda:", device, " is current");
  DeviceMemoryWindow window;
  LaunchReport report;
  const int64_t blocks = int64_t(g.x) * g.y * g.z;
  const auto run_block = [&](int64_t i) {
    if (report.stopped()) return;
    const uint3 index{static_cast<unsigned>(i % g.x), static_cast<unsigned>((i / g.x) % g.y),
                      static_cast<unsigned>(i / (int64_t(g.x) * g.y))};
    try {
      BlockRunner& runner = this_threads_runner();
      runner.op = &op;
      const bool check_races = settings().race_check == RaceCheck::all || i < 4 || i >= blocks - 4 || i % 16 == 0;
      runner.run(spec, entry, index, report, check_races);
    } catch (const std::exception& e) {
      report.fatal(std::string("block could not run: ") + e.what());
    }
  };
  if (blocks == 1 || omp_in_parallel()) {
    for (int64_t i = 0; i < blocks; ++i) run_block(i);
  } else {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < blocks; ++i) run_block(i);
  }
  if (!report.empty())
    ATROUS_FAIL("CUDA simulator: kernel ", spec.name, " (grid ", format_dim(g), ", block ", format_dim(b), ", stream ",
                op.stream, "):", report.summary());
}

}  // namespace atrous::sim
