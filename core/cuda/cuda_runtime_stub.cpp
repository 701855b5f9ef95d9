// CPU-only builds: every CUDA request is an error that says how to get a CUDA build.
#include "core/cuda_runtime.h"
#include "core/device.h"
#include "core/error.h"

namespace atrous {
namespace cuda {
namespace {
[[noreturn]] void no_cuda(const char* what) {
  ATROUS_FAIL(what, ": this atrous build has no CUDA support (configure with nvcc on PATH and -DATROUS_CUDA=ON)");
}
}  // namespace

bool built_with_cuda() { return false; }
bool is_simulator() { return false; }
bool simulator_checks_exact_extents() { return false; }
int device_count() { return 0; }
void* allocate(size_t, int) { no_cuda("cuda allocate"); }
void free(void*, size_t, int) { no_cuda("cuda free"); }
AllocatorStats allocator_stats(int) { no_cuda("cuda allocator_stats"); }
void release_cached_memory(int) { no_cuda("cuda release_cached_memory"); }
void copy(void*, int, const void*, int, size_t) { no_cuda("cuda copy"); }
void memset_zero(void*, size_t, int) { no_cuda("cuda memset"); }
void synchronize(int) { no_cuda("cuda synchronize"); }
void* allocate_pinned(size_t) { no_cuda("cuda allocate_pinned"); }
void free_pinned(void*, size_t) { no_cuda("cuda free_pinned"); }
bool is_pinned(const void*, size_t) { return false; }
void copy_from_pinned_async(void*, int, const void*, size_t) { no_cuda("cuda copy_from_pinned_async"); }
void set_tf32_convolutions(bool) { no_cuda("cuda set_tf32_convolutions"); }
bool tf32_convolutions() { return false; }
}  // namespace cuda

bool cuda_available() { return cuda::device_count() > 0; }
int cuda_device_count() { return cuda::device_count(); }

}  // namespace atrous
