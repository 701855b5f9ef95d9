// Inside the simulator: the state of the simulated runtime, shared by runtime.cpp (devices, memory, copies) and
// streams.cpp (streams, events, stream order): the streams and events themselves, device memory bookkeeping behind
// one lock, and what each host thread has (current device, last error, what it has seen complete).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "kernels/cuda/sim/cuda_sim.h"

struct CUstream_st {
  int id = 0, device = 0;
  unsigned flags = 0;
  uint64_t seq = 0;
  std::vector<uint64_t> clock;  // per stream: the last operation this stream is ordered after
};

struct CUevent_st {
  unsigned flags = 0;
  bool recorded = false;
  std::vector<uint64_t> clock;
  double time_ms = 0;
};

namespace atrous::sim {

constexpr int kMaxStreams = 4096;  // stream ids fit the page record's 12 bits

// Everything the simulated devices hold, behind one lock (simulated runtime calls are cheap next to the work).
struct State {
  std::mutex mutex;
  std::vector<std::unique_ptr<CUstream_st>> streams;        // index = id; ids 0..devices-1: the legacy default streams
  std::map<uintptr_t, size_t> free_ranges;                  // address -> bytes, coalesced
  std::map<uintptr_t, std::pair<size_t, int>> allocations;  // address -> bytes, device
  std::vector<size_t> used;                                 // per device
  size_t high_water = 0;                                    // bytes of the heap ever handed out (from base)
  int windows = 0;                                          // open DeviceMemoryWindows
  std::set<void*> pinned;
};
State& state();

struct HostThread {
  int device = 0;
  cudaError_t last_error = cudaSuccess;
  std::vector<uint64_t> clock;  // what this host thread has seen complete, per stream
};
HostThread& this_host_thread();

// Records `error` as the calling thread's last error and returns it.
cudaError_t fail(cudaError_t error);
// The stream a handle names (null: the current device's legacy default stream).
CUstream_st* resolve(cudaStream_t stream);
// The handle is null or a live stream (caller holds state().mutex).
bool is_live_stream(cudaStream_t stream);
// Element-wise maximum of two vector clocks, into `into`.
void merge(std::vector<uint64_t>& into, const std::vector<uint64_t>& from);

}  // namespace atrous::sim
