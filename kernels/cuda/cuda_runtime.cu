// CUDA builds: device memory and copies for core. A caching device allocator replaces the plain cudaMalloc here
// with the CUDA backend issue; the interface stays.
#include <cuda_runtime.h>

#include "core/cuda_runtime.h"
#include "core/device.h"
#include "kernels/cuda/cuda_check.h"

namespace atrous {
namespace cuda {

bool built_with_cuda() { return true; }

int device_count() {
  int count = 0;
  // No driver or no device is not an error for a CPU user: report zero devices.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

void* allocate(size_t bytes, int device) {
  ATROUS_CHECK(device >= 0 && device < device_count(), "cuda allocate: device cuda:", device,
               " does not exist (", device_count(), " visible)");
  ATROUS_CUDA_CHECK(cudaSetDevice(device));
  void* ptr = nullptr;
  cudaError_t status = cudaMalloc(&ptr, bytes == 0 ? 1 : bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    ATROUS_FAIL("cuda allocate: out of memory on cuda:", device, " allocating ", bytes, " bytes (", free_bytes,
                " free of ", total_bytes, ")");
  }
  return ptr;
}

void free(void* ptr, size_t, int device) {
  if (!ptr) return;
  cudaSetDevice(device);
  cudaFree(ptr);  // not checked: called from destructors, where throwing would terminate
}

void copy(void* dst, int dst_device, const void* src, int src_device, size_t bytes) {
  const cudaMemcpyKind kind = dst_device < 0 ? cudaMemcpyDeviceToHost
                              : src_device < 0 ? cudaMemcpyHostToDevice
                                               : cudaMemcpyDeviceToDevice;
  ATROUS_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

void memset_zero(void* ptr, size_t bytes, int device) {
  ATROUS_CUDA_CHECK(cudaSetDevice(device));
  ATROUS_CUDA_CHECK(cudaMemset(ptr, 0, bytes));
}

}  // namespace cuda

bool cuda_available() { return cuda::device_count() > 0; }
int cuda_device_count() { return cuda::device_count(); }

}  // namespace atrous
