#include "dist/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/error.h"
#include "dist/mpi_communicator.h"

namespace atrous::dist {

std::vector<uint8_t> SingleProcess::all_gather(const void* data, int64_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  return std::vector<uint8_t>(p, p + bytes);
}

void SingleProcess::abort(const std::string& message, int code) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::exit(code);
}

bool launched_by_mpi() {
  // Open MPI's mpirun, MPICH/Hydra and Slurm's srun with PMI/PMIx each set one of these in every rank.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(name)) return true;
  return false;
}

int local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* value = std::getenv(name)) return std::atoi(value);
  return 0;
}

std::shared_ptr<Communicator> world() {
  static std::once_flag once;
  static std::shared_ptr<Communicator> instance;
  std::call_once(once, [] {
    if (launched_by_mpi()) {
      ATROUS_CHECK(mpi_built(), "this process was started by an MPI launcher (mpirun/srun), but this build of atrous "
                   "has no MPI backend: install libopenmpi-dev (tools/install_deps.sh) and rebuild");
      instance = make_mpi_world();
    } else {
      instance = std::make_shared<SingleProcess>();
    }
  });
  return instance;
}

namespace {

void check_collective_tensor(const char* op, const Tensor& tensor, bool floating_only) {
  ATROUS_CHECK(tensor.defined(), op, ": the tensor is undefined");
  ATROUS_CHECK(tensor.is_contiguous(), op, ": the tensor must be contiguous, got ", tensor.description());
  ATROUS_CHECK(!floating_only || tensor.dtype() == DType::f32 || tensor.dtype() == DType::f64, op,
               ": only f32 and f64 tensors, got ", tensor.description());
}

// Runs `on_host` on the tensor's values in host memory; device tensors are copied out and back.
template <typename F>
void on_host_values(Tensor& tensor, F&& on_host) {
  if (tensor.device().is_cpu()) {
    on_host(tensor);
    return;
  }
  Tensor host = tensor.to(Device::cpu());
  on_host(host);
  tensor.copy_(host.to(tensor.device()));
}

}  // namespace

void Communicator::all_reduce_tensor(Tensor& tensor) {
  on_host_values(tensor, [&](Tensor& host) {
    if (host.dtype() == DType::f32)
      all_reduce_sum(host.data<float>(), host.numel());
    else
      all_reduce_sum(host.data<double>(), host.numel());
  });
}

std::unique_ptr<PendingCollective> Communicator::start_all_reduce_tensor(Tensor& tensor) {
  all_reduce_tensor(tensor);
  return std::make_unique<PendingCollective>();
}

void Communicator::broadcast_tensor(Tensor& tensor, int root) {
  on_host_values(tensor, [&](Tensor& host) {
    broadcast(host.raw_data(), host.numel() * static_cast<int64_t>(dtype_size(host.dtype())), root);
  });
}

void all_reduce_sum(Communicator& comm, Tensor& tensor) {
  check_collective_tensor("all_reduce_sum", tensor, true);
  if (comm.size() > 1) comm.all_reduce_tensor(tensor);
}

std::unique_ptr<PendingCollective> start_all_reduce_sum(Communicator& comm, Tensor& tensor) {
  check_collective_tensor("start_all_reduce_sum", tensor, true);
  if (comm.size() == 1) return std::make_unique<PendingCollective>();
  return comm.start_all_reduce_tensor(tensor);
}

void broadcast(Communicator& comm, Tensor& tensor, int root) {
  check_collective_tensor("broadcast", tensor, false);
  if (comm.size() > 1) comm.broadcast_tensor(tensor, root);
}

}  // namespace atrous::dist
