// Inside the simulator: simulated device memory and stream order.
//
// Device memory of every simulated device is one reserved range of host address space (the heap), handed out in
// whole 4 KiB pages by cudaMalloc. Outside copies, memsets, launches and cuBLAS calls the heap is mprotect'ed
// PROT_NONE, so host code that dereferences a device pointer faults as it would with a real GPU.
//
// Each page remembers its last user: the stream and that stream's operation counter. Every stream carries a vector
// clock of what it is ordered after (its own earlier work, events it waited for, and whatever the host had seen
// complete when it queued the work); an operation that touches a page last used by another stream's operation it is
// not ordered after is a stream-order hazard (two streams sharing memory without an event between them).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/sim/cuda_sim.h"

namespace atrous::sim {

constexpr int kPageShift = 12;
constexpr uint64_t kPageAllocated = uint64_t(1) << 63;
constexpr int kDeviceShift = 60, kStreamShift = 48;
constexpr uint64_t kSeqMask = (uint64_t(1) << kStreamShift) - 1;

struct Heap {
  uintptr_t base = 0;
  size_t reserved = 0;
  std::atomic<uint64_t>* pages = nullptr;  // per page: allocated bit | device | last stream | its operation number
};
Heap& heap();
inline bool in_heap(uintptr_t a) { return a - heap().base < heap().reserved; }

inline uint64_t pack_page(int device, int stream, uint64_t seq) {
  return kPageAllocated | (uint64_t(device) << kDeviceShift) | (uint64_t(stream) << kStreamShift) | (seq & kSeqMask);
}

// One operation on a stream (a kernel, copy, memset or cuBLAS call) as the stream-order checker sees it.
struct StreamOp {
  int device = 0, stream = 0;
  uint64_t seq = 0, packed = 0;
  std::vector<uint64_t> clock;  // per stream: the last operation this one is ordered after
  std::string name;
};

// Queues an operation on `stream` (null: the current device's legacy default stream): it is ordered after the
// stream's earlier work and after everything the calling host thread has synchronised with.
StreamOp begin_op(cudaStream_t stream, const std::string& name);

// Checks and records one access of [a, a + bytes) to device memory by `op`; returns what is wrong, or "" when
// nothing is. `fatal` is set for errors that make the access itself invalid (memory not allocated, wrong device).
std::string check_page_access(const StreamOp& op, uintptr_t a, size_t bytes, bool& fatal);

// The same for a host-side operation over a whole range; throws atrous::Error naming `what` on any problem.
void check_range(const StreamOp& op, const void* p, size_t bytes, const char* what);

// AddressSanitizer's view of [a, a + bytes) in ASan builds: "" when addressable, else a description.
std::string poisoned_description(uintptr_t a, size_t bytes);

// While one exists, host code may touch device memory (the simulator's own copies, kernels and cuBLAS).
class DeviceMemoryWindow {
 public:
  DeviceMemoryWindow();
  ~DeviceMemoryWindow();
  DeviceMemoryWindow(const DeviceMemoryWindow&) = delete;
  DeviceMemoryWindow& operator=(const DeviceMemoryWindow&) = delete;
};

}  // namespace atrous::sim
