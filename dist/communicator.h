// The processes of a data-parallel job and the collectives training needs from them: rank, size, all-reduce (sum),
// broadcast, barrier and all-gather of small buffers. Backends: one process (always), MPI (when the build found
// MPI and the process was started by mpirun / srun), NCCL for CUDA tensors (dist/nccl_communicator.h, bootstrapped
// through MPI). The pointer collectives work on host memory; the tensor collectives below take tensors on any
// device: a backend without device collectives (MPI) stages them through host memory, so CUDA (and simulated CUDA)
// training runs over MPI too.
//
// Every rank must call the same collectives in the same order with the same counts; a rank that dies or throws ends
// the job (MpiCommunicator::abort), it never leaves the others waiting.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace atrous::dist {

// A collective that was started and may still be running. wait() finishes it (the result is then where the started
// call said); test() lets the backend make progress (MPI moves non-blocking collectives along inside MPI calls) and
// says whether it is done. Destroying an unfinished one waits for it: its buffer must not vanish under the transfer.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  virtual bool test() { return true; }
  virtual void wait() {}
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "single" | "mpi"
  bool is_root() const { return rank() == 0; }

  // In place: afterwards every rank holds the element-wise sum of all ranks' `count` values.
  virtual void all_reduce_sum(float* data, int64_t count) = 0;
  virtual void all_reduce_sum(double* data, int64_t count) = 0;
  virtual void all_reduce_sum(int64_t* data, int64_t count) = 0;
  // Rank `root`'s `bytes` bytes copied to every rank.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Every rank's `bytes` bytes, in rank order: `size() * bytes` bytes.
  virtual std::vector<uint8_t> all_gather(const void* data, int64_t bytes) = 0;
  // Ends every rank of the job with `code` after printing `message` (a failed rank must not leave the others
  // blocked in a collective). The single-process backend exits.
  [[noreturn]] virtual void abort(const std::string& message, int code) = 0;

  // Tensor collectives (see all_reduce_sum / broadcast below, which check the tensor first). The defaults copy
  // device tensors to the host and back; NCCL reduces device memory in place on the device's stream.
  virtual void all_reduce_tensor(Tensor& tensor);
  virtual void broadcast_tensor(Tensor& tensor, int root);
  // Starts all_reduce_tensor and returns before it ends where the backend can: MPI reduces host memory with a
  // non-blocking all-reduce; NCCL's is queued on the device's stream anyway. The tensor must stay alive and untouched
  // until wait(). Ranks must start the same collectives in the same order. Default: done before returning.
  virtual std::unique_ptr<PendingCollective> start_all_reduce_tensor(Tensor& tensor);
};

// One process: collectives are identities.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  void all_reduce_sum(float*, int64_t) override {}
  void all_reduce_sum(double*, int64_t) override {}
  void all_reduce_sum(int64_t*, int64_t) override {}
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
  std::vector<uint8_t> all_gather(const void* data, int64_t bytes) override;
  [[noreturn]] void abort(const std::string& message, int code) override;
};

// Whether this build has the MPI backend, and whether this process was started by an MPI launcher (mpirun, srun:
// their environment variables say so; MPI is not initialised to find out).
bool mpi_built();
bool launched_by_mpi();
// This process's index among the ranks on its machine (mpirun's and srun's variables; 0 when not launched so):
// ranks of one machine use GPU local_rank % devices.
int local_rank();

// The job this process belongs to: the MPI world when launched by an MPI launcher (initialised on first call,
// finalised at exit), else a single process. Launched by mpirun in a build without MPI is an error saying so.
std::shared_ptr<Communicator> world();

// Tensor collectives on a contiguous tensor on any device (device tensors go through host memory); all_reduce_sum
// takes f32 or f64, broadcast any dtype.
void all_reduce_sum(Communicator& comm, Tensor& tensor);
std::unique_ptr<PendingCollective> start_all_reduce_sum(Communicator& comm, Tensor& tensor);
void broadcast(Communicator& comm, Tensor& tensor, int root);

}  // namespace atrous::dist
