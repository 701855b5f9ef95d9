#include "dist/nccl_communicator.h"

#include <cstdlib>

#include "core/error.h"

#if ATROUS_HAS_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include "core/cuda/cuda_context.h"
#endif

namespace atrous::dist {

#if ATROUS_HAS_NCCL

bool nccl_built() { return true; }

namespace {

void nccl_check(ncclResult_t result, const char* what) {
  ATROUS_CHECK(result == ncclSuccess, "NCCL ", what, " failed: ", ncclGetErrorString(result));
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::shared_ptr<Communicator> bootstrap, int device)
      : bootstrap_(std::move(bootstrap)), device_(device) {
    ncclUniqueId id{};
    if (bootstrap_->is_root()) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    bootstrap_->broadcast(&id, sizeof id, 0);
    cuda::stream(device_);  // makes the device current for ncclCommInitRank
    nccl_check(ncclCommInitRank(&comm_, bootstrap_->size(), id, bootstrap_->rank()), "ncclCommInitRank");
  }
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }

  int rank() const override { return bootstrap_->rank(); }
  int size() const override { return bootstrap_->size(); }
  std::string backend() const override { return "nccl"; }
  void all_reduce_sum(float* data, int64_t count) override { bootstrap_->all_reduce_sum(data, count); }
  void all_reduce_sum(double* data, int64_t count) override { bootstrap_->all_reduce_sum(data, count); }
  void all_reduce_sum(int64_t* data, int64_t count) override { bootstrap_->all_reduce_sum(data, count); }
  void broadcast(void* data, int64_t bytes, int root) override { bootstrap_->broadcast(data, bytes, root); }
  void barrier() override { bootstrap_->barrier(); }
  std::vector<uint8_t> all_gather(const void* data, int64_t bytes) override {
    return bootstrap_->all_gather(data, bytes);
  }
  [[noreturn]] void abort(const std::string& message, int code) override {
    bootstrap_->abort(message, code);
    std::_Exit(code);  // not reached: the bootstrap's abort does not return
  }

  void all_reduce_tensor(Tensor& tensor) override {
    if (!on_my_device(tensor)) return Communicator::all_reduce_tensor(tensor);
    const ncclDataType_t type = tensor.dtype() == DType::f32 ? ncclFloat32 : ncclFloat64;
    nccl_check(ncclAllReduce(tensor.raw_data(), tensor.raw_data(), static_cast<size_t>(tensor.numel()), type, ncclSum,
                             comm_, cuda::stream(device_)),
               "ncclAllReduce");
  }
  void broadcast_tensor(Tensor& tensor, int root) override {
    if (!on_my_device(tensor)) return Communicator::broadcast_tensor(tensor, root);
    const size_t bytes = static_cast<size_t>(tensor.numel()) * dtype_size(tensor.dtype());
    nccl_check(ncclBroadcast(tensor.raw_data(), tensor.raw_data(), bytes, ncclUint8, root, comm_,
                             cuda::stream(device_)),
               "ncclBroadcast");
  }

 private:
  bool on_my_device(const Tensor& t) const { return t.device().is_cuda() && t.device().index == device_; }

  std::shared_ptr<Communicator> bootstrap_;
  int device_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::shared_ptr<Communicator> make_nccl(std::shared_ptr<Communicator> bootstrap, int device) {
  ATROUS_CHECK(bootstrap, "make_nccl: a bootstrap communicator (MPI) is needed to share NCCL's id");
  return std::make_shared<NcclCommunicator>(std::move(bootstrap), device);
}

#else

bool nccl_built() { return false; }

std::shared_ptr<Communicator> make_nccl(std::shared_ptr<Communicator>, int) {
  ATROUS_FAIL("this build of atrous has no NCCL backend (it needs a CUDA build and NCCL's nccl.h and libnccl)");
}

#endif

}  // namespace atrous::dist
