// The few CUDA runtime services core needs (device memory, copies). Implemented in core/cuda_runtime.cu when the
// build has CUDA, and by stubs that throw a clear error otherwise, so core never includes CUDA headers.
#pragma once
#include <cstddef>

namespace atrous::cuda {

bool built_with_cuda();
int device_count();  // 0 when built without CUDA or no device is visible
void* allocate(size_t bytes, int device);
void free(void* ptr, size_t bytes, int device);
// device -1 means host memory.
void copy(void* dst, int dst_device, const void* src, int src_device, size_t bytes);
void memset_zero(void* ptr, size_t bytes, int device);

}  // namespace atrous::cuda
