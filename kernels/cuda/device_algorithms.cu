// Exclusive prefix sum and stable radix sort (kernels/cuda/device_algorithms.h). Both work on tiles of 1024 items,
// 4 consecutive items per thread of a 256-thread block, with a block-wide scan built from warp shuffles:
// - scan: each tile's local exclusive sums and its total; the totals are scanned the same way (recursively) and added
//   back to their tiles;
// - sort: 4 key bits per pass. A pass counts each digit per tile, scans the counts digit-major (all tiles' zeros,
//   then all ones, ...) into each (digit, tile)'s first output slot, and scatters every item to that slot plus its
//   rank among the tile's items with the same digit and a lower index -- so equal digits keep their order (stable).
//   The 16 per-thread digit counts are scanned four at a time, packed in 16-bit fields of a 64-bit word.
#include <algorithm>
#include <utility>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/device_algorithms.h"

namespace atrous::kernels::cuda {
namespace {

constexpr int kItemsPerThread = 4;
constexpr int kTile = kThreads * kItemsPerThread;
constexpr int kDigitBits = 4, kDigits = 1 << kDigitBits;

// Exclusive scan of one value per thread over the block; `total` gets the block's sum (every thread).
template <typename U>
__device__ U block_exclusive_scan(U v, U* warp_sums, U& total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  U x = v;
  for (int o = 1; o < 32; o <<= 1) {
    const U y = __shfl_up_sync(0xffffffffu, x, o);
    if (lane >= o) x += y;
  }
  if (lane == 31) warp_sums[warp] = x;
  __syncthreads();
  U before = 0;
  total = 0;
  for (int w = 0; w < warps; ++w) {
    if (w < warp) before += warp_sums[w];
    total += warp_sums[w];
  }
  __syncthreads();  // warp_sums may be reused
  return before + x - v;
}

__global__ void scan_tiles_kernel(const int32_t* __restrict__ in, int32_t* __restrict__ out, int64_t n,
                                  int32_t* __restrict__ tile_totals) {
  __shared__ int32_t warp_sums[kThreads / 32];
  const int64_t first = int64_t(blockIdx.x) * kTile + int64_t(threadIdx.x) * kItemsPerThread;
  int32_t v[kItemsPerThread], sum = 0;
  for (int i = 0; i < kItemsPerThread; ++i) {
    v[i] = first + i < n ? in[first + i] : 0;
    sum += v[i];
  }
  int32_t total;
  int32_t running = block_exclusive_scan(sum, warp_sums, total);
  for (int i = 0; i < kItemsPerThread; ++i) {
    if (first + i < n) out[first + i] = running;
    running += v[i];
  }
  if (threadIdx.x == 0 && tile_totals) tile_totals[blockIdx.x] = total;
}

__global__ void add_tile_offsets_kernel(int32_t* __restrict__ out, int64_t n, const int32_t* __restrict__ offsets) {
  ATROUS_GRID_STRIDE(i, n) out[i] += offsets[i / kTile];
}

__device__ inline int digit_of(int32_t key, int shift) { return (key >> shift) & (kDigits - 1); }

// For the calling thread's items of tile `tile`: their digits, and each one's rank among the tile's items with the
// same digit that come before it. tile_counts (shared, kDigits) receives the tile's count of each digit.
__device__ void tile_digit_ranks(const int32_t* keys, int64_t n, int64_t tile, int shift, int (&digit)[kItemsPerThread],
                                 int (&rank)[kItemsPerThread], uint64_t* warp_sums, int* tile_counts) {
  const int64_t first = tile * kTile + int64_t(threadIdx.x) * kItemsPerThread;
  int mine[kDigits] = {};  // this thread's count of each digit
  for (int i = 0; i < kItemsPerThread; ++i) {
    digit[i] = first + i < n ? digit_of(keys[first + i], shift) : -1;
    if (digit[i] >= 0) rank[i] = mine[digit[i]]++;
  }
  for (int group = 0; group < kDigits / 4; ++group) {
    uint64_t packed = 0;
    for (int j = 0; j < 4; ++j) packed |= uint64_t(mine[group * 4 + j]) << (16 * j);
    uint64_t total;
    const uint64_t before = block_exclusive_scan(packed, warp_sums, total);
    for (int i = 0; i < kItemsPerThread; ++i)
      if (digit[i] >= group * 4 && digit[i] < group * 4 + 4)
        rank[i] += int((before >> (16 * (digit[i] - group * 4))) & 0xffff);
    if (threadIdx.x == 0)
      for (int j = 0; j < 4; ++j) tile_counts[group * 4 + j] = int((total >> (16 * j)) & 0xffff);
  }
}

__global__ void digit_counts_kernel(const int32_t* __restrict__ keys, int64_t n, int shift, int64_t tiles,
                                    int32_t* __restrict__ counts) {
  __shared__ uint64_t warp_sums[kThreads / 32];
  __shared__ int tile_counts[kDigits];
  int digit[kItemsPerThread], rank[kItemsPerThread];
  tile_digit_ranks(keys, n, blockIdx.x, shift, digit, rank, warp_sums, tile_counts);
  __syncthreads();
  if (threadIdx.x < kDigits) counts[int64_t(threadIdx.x) * tiles + blockIdx.x] = tile_counts[threadIdx.x];
}

__global__ void scatter_kernel(const int32_t* __restrict__ keys_in, const int32_t* __restrict__ values_in, int64_t n,
                               int shift, int64_t tiles, const int32_t* __restrict__ starts,
                               int32_t* __restrict__ keys_out, int32_t* __restrict__ values_out) {
  __shared__ uint64_t warp_sums[kThreads / 32];
  __shared__ int tile_counts[kDigits];
  int digit[kItemsPerThread], rank[kItemsPerThread];
  tile_digit_ranks(keys_in, n, blockIdx.x, shift, digit, rank, warp_sums, tile_counts);
  const int64_t first = int64_t(blockIdx.x) * kTile + int64_t(threadIdx.x) * kItemsPerThread;
  for (int i = 0; i < kItemsPerThread; ++i) {
    if (digit[i] < 0) continue;
    const int64_t to = starts[int64_t(digit[i]) * tiles + blockIdx.x] + rank[i];
    keys_out[to] = keys_in[first + i];
    values_out[to] = values_in[first + i];
  }
}

int64_t tile_count(int64_t n) { return (n + kTile - 1) / kTile; }

}  // namespace

void exclusive_sum(int device, const int32_t* in, int32_t* out, int64_t n) {
  if (n <= 0) return;
  const int64_t tiles = tile_count(n);
  ATROUS_CHECK(tiles <= 2147483647, "exclusive_sum: ", n, " items exceed one launch");
  cudaStream_t st = atrous::cuda::stream(device);
  if (tiles == 1) {
    launch("scan_tiles_kernel", dim3(1), dim3(kThreads), 0, st, scan_tiles_kernel, in, out, n, nullptr);
    return;
  }
  Scratch totals(static_cast<size_t>(tiles) * sizeof(int32_t), device);
  Scratch offsets(static_cast<size_t>(tiles) * sizeof(int32_t), device);
  launch("scan_tiles_kernel", dim3(static_cast<unsigned>(tiles)), dim3(kThreads), 0, st, scan_tiles_kernel, in, out, n,
         totals.as<int32_t>());
  exclusive_sum(device, totals.as<int32_t>(), offsets.as<int32_t>(), tiles);
  launch_1d("add_tile_offsets_kernel", n, device, add_tile_offsets_kernel, out, n,
            static_cast<const int32_t*>(offsets.as<int32_t>()));
}

void radix_sort_pairs(int device, const int32_t* keys_in, int32_t* keys_out, const int32_t* values_in,
                      int32_t* values_out, int64_t n, int bits) {
  if (n <= 0) return;
  ATROUS_CHECK(bits >= 1 && bits <= 31, "radix_sort_pairs: ", bits, " key bits (1..31)");
  const int64_t tiles = tile_count(n);
  ATROUS_CHECK(tiles * kDigits <= 2147483647, "radix_sort_pairs: ", n, " items exceed one launch");
  cudaStream_t st = atrous::cuda::stream(device);
  const int passes = (bits + kDigitBits - 1) / kDigitBits;
  Scratch counts(static_cast<size_t>(tiles) * kDigits * sizeof(int32_t), device);
  Scratch starts(static_cast<size_t>(tiles) * kDigits * sizeof(int32_t), device);
  Scratch spare_keys(static_cast<size_t>(n) * sizeof(int32_t), device);
  Scratch spare_values(static_cast<size_t>(n) * sizeof(int32_t), device);
  // Ping-pong so that the last pass writes the outputs.
  int32_t* buffers_k[2] = {keys_out, spare_keys.as<int32_t>()};
  int32_t* buffers_v[2] = {values_out, spare_values.as<int32_t>()};
  const int32_t* src_k = keys_in;
  const int32_t* src_v = values_in;
  for (int pass = 0; pass < passes; ++pass) {
    const int target = (passes - 1 - pass) % 2;  // pass passes-1 lands in buffer 0 (the outputs)
    const int shift = pass * kDigitBits;
    launch("digit_counts_kernel", dim3(static_cast<unsigned>(tiles)), dim3(kThreads), 0, st, digit_counts_kernel, src_k,
           n, shift, tiles, counts.as<int32_t>());
    exclusive_sum(device, counts.as<int32_t>(), starts.as<int32_t>(), tiles * kDigits);
    launch("scatter_kernel", dim3(static_cast<unsigned>(tiles)), dim3(kThreads), 0, st, scatter_kernel, src_k, src_v, n,
           shift, tiles, static_cast<const int32_t*>(starts.as<int32_t>()), buffers_k[target], buffers_v[target]);
    src_k = buffers_k[target];
    src_v = buffers_v[target];
  }
}

}  // namespace atrous::kernels::cuda
