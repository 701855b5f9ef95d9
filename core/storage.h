// A block of memory on one device, shared by every tensor that views it. Host storage may be pinned (page-locked,
// core/cuda_runtime.h) when a CUDA device is visible; elsewhere a pinned request is ordinary host memory.
#pragma once
#include <cstddef>
#include <memory>

#include "core/allocator.h"
#include "core/cuda_runtime.h"
#include "core/device.h"

namespace atrous {

class Storage {
 public:
  Storage(size_t bytes, Device device, bool pinned = false)
      : bytes_(bytes),
        device_(device),
        pinned_(pinned && device.is_cpu() && cuda_available()),
        data_(pinned_ ? cuda::allocate_pinned(bytes) : device_allocate(bytes, device)) {}
  ~Storage() {
    if (pinned_) {
      cuda::free_pinned(data_, bytes_);
    } else {
      device_free(data_, bytes_, device_);
    }
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  bool pinned() const { return pinned_; }

 private:
  size_t bytes_;
  Device device_;
  bool pinned_;
  void* data_;
};

}  // namespace atrous
