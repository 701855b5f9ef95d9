// A block of memory on one device, shared by every tensor that views it.
#pragma once
#include <cstddef>
#include <memory>

#include "core/allocator.h"
#include "core/device.h"

namespace atrous {

class Storage {
 public:
  Storage(size_t bytes, Device device) : bytes_(bytes), device_(device), data_(device_allocate(bytes, device)) {}
  ~Storage() { device_free(data_, bytes_, device_); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  size_t bytes_;
  Device device_;
  void* data_;
};

}  // namespace atrous
