#include "dist/mpi_communicator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

#include "core/error.h"

#if ATROUS_HAS_MPI
#include <mpi.h>
#endif

namespace atrous::dist {

#if ATROUS_HAS_MPI

bool mpi_built() { return true; }

namespace {

// MPI counts are int: larger buffers go in slices.
constexpr int64_t kMaxSlice = std::numeric_limits<int>::max() / 8;

// A non-blocking all-reduce of host memory. A device tensor is reduced in a host copy made at the start and copied
// back to the device by wait().
class MpiPendingAllReduce final : public PendingCollective {
 public:
  explicit MpiPendingAllReduce(Tensor& tensor) {
    if (tensor.device().is_cpu()) {
      host_ = tensor;
    } else {
      device_ = tensor;
      host_ = tensor.to(Device::cpu());
    }
    const MPI_Datatype type = host_.dtype() == DType::f32 ? MPI_FLOAT : MPI_DOUBLE;
    auto* data = static_cast<char*>(host_.raw_data());
    const int64_t count = host_.numel();
    const auto element = static_cast<int64_t>(dtype_size(host_.dtype()));
    for (int64_t done = 0; done < count; done += kMaxSlice) {
      const int n = static_cast<int>(std::min(kMaxSlice, count - done));
      requests_.emplace_back();
      MPI_Iallreduce(MPI_IN_PLACE, data + done * element, n, type, MPI_SUM, MPI_COMM_WORLD, &requests_.back());
    }
  }
  ~MpiPendingAllReduce() override {
    if (!finished_) MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  }

  bool test() override {
    if (finished_) return true;
    int done = 0;
    MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE);
    if (done) finish();
    return finished_;
  }
  void wait() override {
    if (finished_) return;
    MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
    finish();
  }

 private:
  void finish() {
    finished_ = true;
    if (device_.defined()) device_.copy_(host_.to(device_.device()));
  }

  Tensor host_;
  Tensor device_;
  std::vector<MPI_Request> requests_;
  bool finished_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owns_mpi_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCommunicator() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (owns_mpi_ && !finalised) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void all_reduce_sum(float* data, int64_t count) override { reduce(data, count, MPI_FLOAT); }
  void all_reduce_sum(double* data, int64_t count) override { reduce(data, count, MPI_DOUBLE); }
  void all_reduce_sum(int64_t* data, int64_t count) override { reduce(data, count, MPI_INT64_T); }

  void broadcast(void* data, int64_t bytes, int root) override {
    ATROUS_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " is not a rank of a job of ", size_);
    auto* p = static_cast<char*>(data);
    for (int64_t done = 0; done < bytes; done += kMaxSlice) {
      const int n = static_cast<int>(std::min(kMaxSlice, bytes - done));
      MPI_Bcast(p + done, n, MPI_BYTE, root, MPI_COMM_WORLD);
    }
  }

  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }

  std::unique_ptr<PendingCollective> start_all_reduce_tensor(Tensor& tensor) override {
    return std::make_unique<MpiPendingAllReduce>(tensor);
  }

  std::vector<uint8_t> all_gather(const void* data, int64_t bytes) override {
    ATROUS_CHECK(bytes >= 0 && bytes <= kMaxSlice, "all_gather: ", bytes, " bytes is not a small buffer");
    std::vector<uint8_t> out(static_cast<size_t>(bytes * size_));
    MPI_Allgather(data, static_cast<int>(bytes), MPI_BYTE, out.data(), static_cast<int>(bytes), MPI_BYTE,
                  MPI_COMM_WORLD);
    return out;
  }

  void abort(const std::string& message, int code) override {
    std::fprintf(stderr, "rank %d of %d: %s\nrank %d: ending every rank of the job (MPI_Abort)\n", rank_, size_,
                 message.c_str(), rank_);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  template <typename T>
  void reduce(T* data, int64_t count, MPI_Datatype type) {
    for (int64_t done = 0; done < count; done += kMaxSlice) {
      const int n = static_cast<int>(std::min(kMaxSlice, count - done));
      MPI_Allreduce(MPI_IN_PLACE, data + done, n, type, MPI_SUM, MPI_COMM_WORLD);
    }
  }

  int rank_ = 0;
  int size_ = 1;
  bool owns_mpi_ = false;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_world() { return std::make_shared<MpiCommunicator>(); }

#else

bool mpi_built() { return false; }

std::shared_ptr<Communicator> make_mpi_world() {
  ATROUS_FAIL("this build of atrous has no MPI backend (CMake did not find MPI): install libopenmpi-dev "
              "(tools/install_deps.sh) and rebuild");
}

#endif

}  // namespace atrous::dist
