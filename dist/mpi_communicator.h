// The MPI backend of dist::Communicator (dist/mpi_communicator.cpp): compiled with MPI when CMake found it
// (ATROUS_HAS_MPI), otherwise its entry points say that the build lacks MPI.
#pragma once
#include <memory>

#include "dist/communicator.h"

namespace atrous::dist {

// MPI_COMM_WORLD, initialised now (MPI_THREAD_FUNNELED: only the thread that trains calls MPI) and finalised at
// process exit. Collectives that fail abort the whole job with MPI's message.
std::shared_ptr<Communicator> make_mpi_world();

}  // namespace atrous::dist
