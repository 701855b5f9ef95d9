// `atrous`: one executable, one subcommand per job (`atrous --help` lists them).
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "dist/communicator.h"

namespace {

// In an mpirun job a rank that fails must end the others, which would otherwise wait for it in a collective.
int fail(const std::string& message) {
  if (atrous::dist::launched_by_mpi() && atrous::dist::mpi_built()) atrous::dist::world()->abort(message, 1);
  std::cerr << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"atrous: DeepLab semantic segmentation on our own tensor engine (CPU and CUDA)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "atrous 0.1.0");
  atrous::cli::register_quickstart(app);
  atrous::cli::register_train(app);
  atrous::cli::register_evaluate(app);
  atrous::cli::register_models(app);
  atrous::cli::register_convert_weights(app);
  atrous::cli::register_segment(app);
  atrous::cli::register_crf_refine(app);
  atrous::cli::register_crf_search(app);
  atrous::cli::register_info(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const atrous::Error& e) {
    return fail(std::string("error: ") + e.what());
  } catch (const std::exception& e) {
    return fail(std::string("error: ") + e.what());
  }
  return 0;
}
