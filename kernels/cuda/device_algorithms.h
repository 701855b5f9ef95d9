// Device-wide primitives the CUDA lattice needs, written here instead of taken from cub so that the simulator runs
// them like every other kernel: an exclusive prefix sum and a stable LSD radix sort of (key, value) pairs. Both run
// on `device`'s stream with scratch from the caching allocator; pointers are device pointers. Plain C++ header.
#pragma once
#include <cstdint>

namespace atrous::kernels::cuda {

// out[i] = in[0] + ... + in[i-1] (out[0] = 0). out must not overlap in. The sums must fit int32.
void exclusive_sum(int device, const int32_t* in, int32_t* out, int64_t n);

// Sorts the pairs by key, stably (equal keys keep their input order), looking at key bits [0, bits). Keys must be
// non-negative and below 2^bits. The inputs are left unchanged; outputs must not overlap them.
void radix_sort_pairs(int device, const int32_t* keys_in, int32_t* keys_out, const int32_t* values_in,
                      int32_t* values_out, int64_t n, int bits);

}  // namespace atrous::kernels::cuda
