// The NCCL backend of dist::Communicator: all-reduce and broadcast of CUDA tensors in device memory, on the
// device's stream (no host round trip, no synchronisation: later kernels on that stream see the result). Host
// buffers and everything else go through the bootstrap communicator (MPI), which also hands NCCL's unique id from
// rank 0 to every rank. Compiled when the CUDA build finds NCCL (nccl.h and libnccl; ATROUS_HAS_NCCL).
#pragma once
#include <memory>

#include "dist/communicator.h"

namespace atrous::dist {

bool nccl_built();

// Every rank of `bootstrap` calls this with the CUDA device its tensors live on (one device per rank).
std::shared_ptr<Communicator> make_nccl(std::shared_ptr<Communicator> bootstrap, int device);

}  // namespace atrous::dist
