// Test-only CUDA kernels (tests/cuda/test_kernels.cu) for tests/test_cuda_sim.cpp: correct ones that exercise each
// device feature the simulator emulates, and deliberately broken ones (a missing __syncthreads, an off-by-one
// store, a barrier in divergent code...) that its checkers must catch. Plain C++: pointers are device pointers,
// streams are cudaStream_t passed as void* (null: the device's stream from core's runtime).
#pragma once
#include <cstdint>

namespace atrous::testing::cuda_kernels {

// out[b] = sum of x[b*256 .. b*256+255], a shared-memory tree reduction per block; with_barrier = false leaves out
// the __syncthreads between the writes of one level and the reads of the next (a race).
void block_sums(const float* x, float* out, int blocks, bool with_barrier);
// Writes y[0..n] (n + 1 elements): one past the end of an n-element tensor.
void store_one_past_the_end(float* y, int64_t n);
// A __syncthreads that only the first warp of the block reaches.
void divergent_barrier(float* y);
// A warp shuffle that half of the warp never reaches (the other half returned).
void divergent_shuffle(float* y);
// A kernel that dereferences a host pointer.
void read_host_pointer(const float* host, float* y);
// Reads shared memory no thread wrote (all but the first word).
void uninitialised_shared_read(float* y);
// y = x reversed within each block of n <= 1024 elements, through dynamic shared memory.
void reverse_in_dynamic_shared(const float* x, float* y, int n, bool with_barrier);
// For lanes l = 0..63 of two warps and values x[l]: out[l * 8 + k] = shfl_down(1), shfl_up(2), shfl_xor(5),
// shfl(idx 3, width 8), ballot(x odd), any(x > 100), all(x >= 0), syncwarp-ordered neighbour read through shared.
void warp_primitives(const int32_t* x, int32_t* out);
// Every thread of `blocks` blocks of 256 adds one to *counter with atomicAdd.
void atomic_count(int32_t* counter, int blocks);
// Thread 0 waits in a spin loop on an atomic flag that thread 1 sets after writing out[0]; then out[1] = out[0] + 1.
void spin_handoff(int32_t* flag, int32_t* out);
// A trivial kernel launched with `threads` threads per block (an invalid count must be an error naming it).
void launch_with_block(int threads, float* y);
// y[i] = value for i < n, on `stream`.
void fill_on_stream(float* y, int64_t n, float value, void* stream);

// Streams and events for the stream-order tests.
void* create_stream();
void destroy_stream(void* stream);
void make_wait(void* waiting_stream, void* recorded_stream);  // an event recorded on one, waited for by the other

}  // namespace atrous::testing::cuda_kernels
