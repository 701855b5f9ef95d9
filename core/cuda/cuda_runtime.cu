// CUDA builds: streams, cuBLAS handles, copies and synchronisation for core. Host<->device copies of pageable memory
// go through two pinned staging buffers per device, so one chunk's DMA overlaps the next chunk's memcpy and the
// transfer runs at pinned-memory speed without pinning user buffers.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda_runtime.h"
#include "core/device.h"

namespace atrous {
namespace cuda {
namespace {

constexpr size_t kStagingBytes = size_t(8) << 20;  // per buffer; large enough to reach full PCIe/NVLink bandwidth

struct Staging {
  void* buffer[2] = {nullptr, nullptr};
  cudaEvent_t done[2] = {nullptr, nullptr};  // the last copy out of / into each buffer
  std::mutex mutex;                          // one copy at a time uses the buffers
};

struct DeviceContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  Staging staging;
};

std::mutex& contexts_mutex() {
  static std::mutex* m = new std::mutex();
  return *m;
}

// Never destroyed: CUDA objects must not be released after the driver has shut down at exit.
std::vector<std::unique_ptr<DeviceContext>>& contexts() {
  static auto* v = new std::vector<std::unique_ptr<DeviceContext>>();
  return *v;
}

DeviceContext& context(int device) {
  ATROUS_CHECK(device >= 0 && device < device_count(), "CUDA: device cuda:", device, " does not exist (",
               device_count(), " visible)");
  ATROUS_CUDA_CHECK(cudaSetDevice(device));
  std::lock_guard<std::mutex> lock(contexts_mutex());
  auto& all = contexts();
  if (all.size() <= static_cast<size_t>(device)) all.resize(device + 1);
  if (!all[device]) {
    auto ctx = std::make_unique<DeviceContext>();
    ATROUS_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
    all[device] = std::move(ctx);
  }
  return *all[device];
}

Staging& staging(int device) {
  DeviceContext& ctx = context(device);
  Staging& s = ctx.staging;
  std::lock_guard<std::mutex> lock(contexts_mutex());
  if (!s.buffer[0]) {
    for (int i = 0; i < 2; ++i) {
      ATROUS_CUDA_CHECK(cudaMallocHost(&s.buffer[i], kStagingBytes));
      ATROUS_CUDA_CHECK(cudaEventCreateWithFlags(&s.done[i], cudaEventDisableTiming));
    }
  }
  return s;
}

void copy_host_to_device(void* dst, const void* src, size_t bytes, int device) {
  cudaStream_t st = stream(device);
  Staging& s = staging(device);
  std::lock_guard<std::mutex> lock(s.mutex);
  const auto* from = static_cast<const char*>(src);
  auto* to = static_cast<char*>(dst);
  int which = 0;
  for (size_t done = 0; done < bytes; done += kStagingBytes, which ^= 1) {
    const size_t chunk = std::min(kStagingBytes, bytes - done);
    ATROUS_CUDA_CHECK(cudaEventSynchronize(s.done[which]));  // the DMA out of this buffer has finished
    std::memcpy(s.buffer[which], from + done, chunk);
    ATROUS_CUDA_CHECK(cudaMemcpyAsync(to + done, s.buffer[which], chunk, cudaMemcpyHostToDevice, st));
    ATROUS_CUDA_CHECK(cudaEventRecord(s.done[which], st));
  }
  // The source has been copied into the staging buffers: the caller may reuse it. The DMA itself stays queued on
  // the stream, ahead of any kernel that reads dst.
}

void copy_device_to_host(void* dst, const void* src, size_t bytes, int device) {
  cudaStream_t st = stream(device);
  Staging& s = staging(device);
  std::lock_guard<std::mutex> lock(s.mutex);
  const auto* from = static_cast<const char*>(src);
  auto* to = static_cast<char*>(dst);
  const size_t chunks = (bytes + kStagingBytes - 1) / kStagingBytes;
  auto chunk_size = [&](size_t i) { return std::min(kStagingBytes, bytes - i * kStagingBytes); };
  auto start = [&](size_t i) {
    ATROUS_CUDA_CHECK(cudaMemcpyAsync(s.buffer[i & 1], from + i * kStagingBytes, chunk_size(i),
                                      cudaMemcpyDeviceToHost, st));
    ATROUS_CUDA_CHECK(cudaEventRecord(s.done[i & 1], st));
  };
  start(0);
  for (size_t i = 0; i < chunks; ++i) {
    if (i + 1 < chunks) start(i + 1);  // the next chunk's DMA overlaps this chunk's memcpy
    ATROUS_CUDA_CHECK(cudaEventSynchronize(s.done[i & 1]));
    std::memcpy(to + i * kStagingBytes, s.buffer[i & 1], chunk_size(i));
  }
}

}  // namespace

cudaStream_t stream(int device) { return context(device).stream; }

cublasHandle_t cublas_handle(int device) {
  DeviceContext& ctx = context(device);
  std::lock_guard<std::mutex> lock(contexts_mutex());
  if (!ctx.cublas) {
    ATROUS_CUBLAS_CHECK(cublasCreate(&ctx.cublas));
    ATROUS_CUBLAS_CHECK(cublasSetStream(ctx.cublas, ctx.stream));
    ATROUS_CUBLAS_CHECK(cublasSetPointerMode(ctx.cublas, CUBLAS_POINTER_MODE_HOST));
    // Full fp32: tf32 only where a caller selects it explicitly.
    ATROUS_CUBLAS_CHECK(cublasSetMathMode(ctx.cublas, CUBLAS_DEFAULT_MATH));
  }
  return ctx.cublas;
}

int current_device() {
  int device = 0;
  ATROUS_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

bool built_with_cuda() { return true; }

bool is_simulator() {
#ifdef ATROUS_CUDA_SIM_ACTIVE
  return true;
#else
  return false;
#endif
}

bool simulator_checks_exact_extents() {
#ifdef ATROUS_CUDA_SIM_ACTIVE
  return sim::checks_exact_extents();
#else
  return false;
#endif
}

int device_count() {
  static const int count = [] {
    int n = 0;
    // No driver or no device is not an error for a CPU user: report zero devices.
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
}

void copy(void* dst, int dst_device, const void* src, int src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device >= 0 && src_device >= 0) {
    if (dst_device == src_device) {
      ATROUS_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream(dst_device)));
    } else {
      // Across devices: the source's queued work must finish first; the copy is then ordered on the target stream.
      synchronize(src_device);
      ATROUS_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device, src, src_device, bytes, stream(dst_device)));
      synchronize(dst_device);
    }
  } else if (dst_device >= 0) {
    copy_host_to_device(dst, src, bytes, dst_device);
  } else {
    copy_device_to_host(dst, src, bytes, src_device);
  }
}

void memset_zero(void* ptr, size_t bytes, int device) {
  if (bytes == 0) return;
  ATROUS_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, stream(device)));
}

void synchronize(int device) { ATROUS_CUDA_CHECK(cudaStreamSynchronize(stream(device))); }

}  // namespace cuda

bool cuda_available() { return cuda::device_count() > 0; }
int cuda_device_count() { return cuda::device_count(); }

}  // namespace atrous
