// A typed host buffer from atrous's caching allocator. The CRF's lattices and mean-field buffers are large and
// rebuilt for every image; fresh pages fault expensively on our VMs (DESIGN.md), so they come from the cache and
// go back to it. Contents start uninitialised.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "core/allocator.h"

namespace atrous::crf {

template <typename T>
class HostArray {
  static_assert(std::is_trivially_copyable_v<T>, "HostArray holds plain data only");

 public:
  HostArray() = default;
  explicit HostArray(int64_t size) : size_(size) {
    if (size_ > 0) data_ = static_cast<T*>(device_allocate(bytes(), Device::cpu()));
  }
  HostArray(int64_t size, const T& value) : HostArray(size) { fill(value); }
  HostArray(const HostArray&) = delete;
  HostArray& operator=(const HostArray&) = delete;
  HostArray(HostArray&& other) noexcept { swap(other); }
  HostArray& operator=(HostArray&& other) noexcept {
    HostArray(std::move(other)).swap(*this);
    return *this;
  }
  ~HostArray() {
    if (data_) device_free(data_, bytes(), Device::cpu());
  }

  void swap(HostArray& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }
  void fill(const T& value) {
    for (int64_t i = 0; i < size_; ++i) data_[i] = value;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return size_; }
  size_t bytes() const { return static_cast<size_t>(size_) * sizeof(T); }
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace atrous::crf
