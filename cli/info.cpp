// `atrous info`: what this build has (CUDA, real GPUs or the simulator, devices, threads) — the first thing to paste
// into a bug report.
#include <omp.h>

#include <iostream>
#include <string>

#include "cli/commands.h"
#include "core/atrous.h"
#include "core/cuda_runtime.h"

namespace atrous::cli {

void register_info(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "Print the build configuration and the devices this build can use");
  cmd->callback([] {
    const bool built_with_cuda = cuda::built_with_cuda();
    // The simulator runs CUDA kernels on the CPU (checked for races and bad addresses): right for testing, not for
    // speed, so a user timing `--device cuda` has to be told which one it is.
    const char* kind = !built_with_cuda       ? "none (--device cpu only)"
                       : cuda::is_simulator() ? "simulator (kernels run on the CPU, checked; not a GPU)"
                                              : "GPU (real devices)";
    const int devices = cuda_device_count();
    std::string names;
    for (int i = 0; i < devices; ++i) names += std::string(i ? ", " : " (") + "cuda:" + std::to_string(i);
    if (devices > 0) names += ")";
    std::cout << "atrous 0.1.0\n"
              << "  CUDA backend built: " << (built_with_cuda ? "yes" : "no") << "\n"
              << "  CUDA kind: " << kind << "\n"
              << "  CUDA devices visible: " << devices << names << "\n"
              << "  CPU threads (OpenMP): " << omp_get_max_threads() << "\n";
  });
}

}  // namespace atrous::cli
