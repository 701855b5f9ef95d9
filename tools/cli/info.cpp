// `atrous info`: what this build has (CUDA, devices, threads) — the first thing to paste into a bug report.
#include <omp.h>

#include <iostream>

#include "core/atrous.h"
#include "tools/cli/commands.h"

namespace atrous::cli {

void register_info(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "Print the build configuration and the devices this build can use");
  cmd->callback([] {
#ifdef ATROUS_HAS_CUDA
    const bool built_with_cuda = true;
#else
    const bool built_with_cuda = false;
#endif
    std::cout << "atrous 0.1.0\n"
              << "  CUDA backend built: " << (built_with_cuda ? "yes" : "no") << "\n"
              << "  CUDA devices visible: " << cuda_device_count() << "\n"
              << "  CPU threads (OpenMP): " << omp_get_max_threads() << "\n";
  });
}

}  // namespace atrous::cli
