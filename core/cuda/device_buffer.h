// Device memory owned by a scope: a block from the caching device allocator (core/cuda/cuda_allocator.cu), handed
// back on destruction. Dropping it while kernels that use it are still queued is safe: a later allocation of the
// block is ordered after them on the device's one stream. Movable; typed views through as<T>().
#pragma once
#include <cstddef>
#include <utility>

#include "core/cuda_runtime.h"

namespace atrous::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t bytes, int device) : bytes_(bytes), device_(device), ptr_(allocate(bytes, device)) {}
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : bytes_(other.bytes_), device_(other.device_), ptr_(std::exchange(other.ptr_, nullptr)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      bytes_ = other.bytes_;
      device_ = other.device_;
      ptr_ = std::exchange(other.ptr_, nullptr);
    }
    return *this;
  }

  template <typename U> U* as() const { return static_cast<U*>(ptr_); }
  size_t bytes() const { return ptr_ ? bytes_ : 0; }
  int device() const { return device_; }

 private:
  void reset() {
    if (ptr_) free(std::exchange(ptr_, nullptr), bytes_, device_);
  }

  size_t bytes_ = 0;
  int device_ = 0;
  void* ptr_ = nullptr;
};

}  // namespace atrous::cuda
