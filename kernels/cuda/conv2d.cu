// 2-D convolution on NHWC activations and [Cout,KH,KW,Cin] weights, CUDA: all three passes are one implicit-GEMM
// kernel (64x64 output tile, 16-deep K slices staged in shared memory, 4x4 outputs per thread, FMA in T) that reads
// its operands through a small "problem" struct computing the dilated/strided/padded im2col address of each element
// on the fly, so no im2col matrix is ever stored. Backward-data is a gather (a transposed convolution, taps off the
// stride grid read zero), backward-weight splits the pixel sum into slices reduced in a fixed order: both are
// deterministic, no atomics. Pointwise (1x1, stride 1, no padding) convolutions are plain GEMMs and go to cuBLAS.
// This is the simple, obviously-correct version. cuda::set_tf32_convolutions(true) switches f32 convolutions to a WMMA
// tensor-core variant of the same kernel (tf32 inputs, fp32 accumulation), and cuBLAS to its tf32 mode.
#include "kernels/conv2d.h"

#include <mma.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <type_traits>

#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kPad = 4;  // shared-memory row padding against bank conflicts on the transposed tile stores

// Forward: C[m = output pixel, n = cout] = sum over k = (kh, kw, ci) of x(pixel, tap) * w[n, k].
template <typename T> struct ForwardProblem {
  Conv2dShape s;
  const T* x;
  const T* w;
  __host__ __device__ T a(int64_t m, int64_t k) const {  // the im2col matrix, read along k (ci contiguous)
    const int64_t ow = m % s.ow, t = m / s.ow, oh = t % s.oh, n = t / s.oh;
    const int64_t ci = k % s.cin, tap = k / s.cin, kw = tap % s.kw, kh = tap / s.kw;
    const int64_t ih = oh * s.stride - s.pad_h + kh * s.dilation, iw = ow * s.stride - s.pad_w + kw * s.dilation;
    if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) return T(0);
    return x[((n * s.h + ih) * s.w + iw) * s.cin + ci];
  }
  __host__ __device__ T b(int64_t k, int64_t n) const { return w[n * s.kh * s.kw * s.cin + k]; }  // read along k
};

// Backward-data: C[m = input pixel, n = ci] = sum over k = (kh, kw, co) of dy(output pixel that tap kh,kw of which
// lands on m) * w[co, kh, kw, ci]. The output pixel exists only when the position is on the stride grid.
template <typename T> struct BackwardDataProblem {
  Conv2dShape s;
  const T* dy;
  const T* w;
  __host__ __device__ T a(int64_t m, int64_t k) const {  // read along k (co contiguous)
    const int64_t iw = m % s.w, t = m / s.w, ih = t % s.h, n = t / s.h;
    const int64_t co = k % s.cout, tap = k / s.cout, kw = tap % s.kw, kh = tap / s.kw;
    const int64_t oh_num = ih + s.pad_h - kh * s.dilation, ow_num = iw + s.pad_w - kw * s.dilation;
    if (oh_num < 0 || ow_num < 0 || oh_num % s.stride != 0 || ow_num % s.stride != 0) return T(0);
    const int64_t oh = oh_num / s.stride, ow = ow_num / s.stride;
    if (oh >= s.oh || ow >= s.ow) return T(0);
    return dy[((n * s.oh + oh) * s.ow + ow) * s.cout + co];
  }
  __host__ __device__ T b(int64_t k, int64_t n) const {  // read along n (ci contiguous)
    const int64_t co = k % s.cout, tap = k / s.cout;
    return w[(co * s.kh * s.kw + tap) * s.cin + n];
  }
};

// Backward-weight: C[m = co, n = (kh, kw, ci)] = sum over k = output pixel of dy[k, co] * x(pixel, tap n).
template <typename T> struct BackwardWeightProblem {
  ForwardProblem<T> im2col;
  const T* dy;
  __host__ __device__ T a(int64_t m, int64_t k) const { return dy[k * im2col.s.cout + m]; }  // read along m
  __host__ __device__ T b(int64_t k, int64_t n) const { return im2col.a(k, n); }             // read along n
};

// The three phases of one thread's work in implicit_gemm_kernel, as __host__ __device__ functions so that a host
// program can run the kernel's exact code block by block (all threads' loads, then all threads' products) and compare
// it with the CPU convolution; the kernel puts a barrier between the phases.
template <typename T> using TileA = T[kTileK][kTileM + kPad];  // [k][m]
template <typename T> using TileB = T[kTileK][kTileN + kPad];  // [k][n]

// Thread t stages 4 elements of the 64x16 A slice and 4 of the 16x64 B slice starting at k0; out-of-range elements
// (past M, N or the split's k_end) are zero. A_K_FAST / B_K_FAST say which index is contiguous in memory, so that
// consecutive threads load consecutive addresses.
template <typename T, bool A_K_FAST, bool B_K_FAST, typename Problem>
__host__ __device__ inline void gemm_load_tiles(const Problem& p, int t, int64_t m0, int64_t n0, int64_t k0,
                                                int64_t k_end, int64_t M, int64_t N, TileA<T>& As, TileB<T>& Bs) {
#pragma unroll
  for (int l = 0; l < 4; ++l) {
    const int e = t + 256 * l;
    const int ka = A_K_FAST ? e % kTileK : e / kTileM, ma = A_K_FAST ? e / kTileK : e % kTileM;
    const int64_t gm = m0 + ma, gk = k0 + ka;
    As[ka][ma] = (gm < M && gk < k_end) ? p.a(gm, gk) : T(0);
    const int kb = B_K_FAST ? e % kTileK : e / kTileN, nb = B_K_FAST ? e / kTileK : e % kTileN;
    const int64_t gn = n0 + nb, gkb = k0 + kb;
    Bs[kb][nb] = (gn < N && gkb < k_end) ? p.b(gkb, gn) : T(0);
  }
}

// Thread t = (ty, tx) accumulates rows ty + 16i and columns tx + 16j of the block tile.
template <typename T>
__host__ __device__ inline void gemm_multiply_tiles(int t, const TileA<T>& As, const TileB<T>& Bs, T (&acc)[4][4]) {
  const int tx = t % 16, ty = t / 16;
#pragma unroll
  for (int kk = 0; kk < kTileK; ++kk) {
    T a_frag[4], b_frag[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) a_frag[i] = As[kk][ty + 16 * i];
#pragma unroll
    for (int j = 0; j < 4; ++j) b_frag[j] = Bs[kk][tx + 16 * j];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] += a_frag[i] * b_frag[j];
  }
}

template <typename T>
__host__ __device__ inline void gemm_store(int t, int64_t m0, int64_t n0, int64_t M, int64_t N, const T (&acc)[4][4],
                                           const T* bias, T* slab) {
  const int tx = t % 16, ty = t / 16;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t gm = m0 + ty + 16 * i;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t gn = n0 + tx + 16 * j;
      if (gn < N) slab[gm * N + gn] = acc[i][j] + (bias ? bias[gn] : T(0));
    }
  }
}

// C[m, n] (+ bias[n]) = sum over k in this split's slice of A(m, k) B(k, n). Block z writes the z-th M x N slab of
// `out` (one slab when there is no split).
template <typename T, typename Problem, bool A_K_FAST, bool B_K_FAST>
__global__ void __launch_bounds__(256) implicit_gemm_kernel(Problem p, int64_t M, int64_t N, int64_t K,
                                                            int64_t k_per_split, const T* __restrict__ bias,
                                                            T* __restrict__ out) {
  __shared__ TileA<T> As;
  __shared__ TileB<T> Bs;
  const int t = threadIdx.x;
  const int64_t m0 = int64_t(blockIdx.x) * kTileM, n0 = int64_t(blockIdx.y) * kTileN;
  const int64_t k_begin = int64_t(blockIdx.z) * k_per_split;
  const int64_t k_end = k_begin + k_per_split < K ? k_begin + k_per_split : K;
  T acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = T(0);
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileK) {
    gemm_load_tiles<T, A_K_FAST, B_K_FAST>(p, t, m0, n0, k0, k_end, M, N, As, Bs);
    __syncthreads();
    gemm_multiply_tiles<T>(t, As, Bs, acc);
    __syncthreads();
  }
  gemm_store<T>(t, m0, n0, M, N, acc, bias, out + int64_t(blockIdx.z) * M * N);
}

// ---- tf32 tensor-core variant (f32 only, selected explicitly with cuda::set_tf32_convolutions) ----
// The same operands and slab layout as implicit_gemm_kernel, multiplied with WMMA m16n16k8 tf32 fragments: a 64x64
// block tile, 32-deep K slices, four warps in a 2x2 grid each owning a 32x32 sub-tile (2x2 fragments). Inputs are
// rounded to tf32 (10-bit mantissa), products accumulate in fp32. Shared rows are padded by 4 floats: WMMA needs
// a leading dimension that is a multiple of 16 bytes and fragment pointers 32-byte aligned (both hold: every
// fragment starts at a row multiple of 16 and a column multiple of 8).
constexpr int kTf32TileK = 32, kTf32Threads = 128;
constexpr int kLdA = kTf32TileK + 4, kLdB = kTileN + 4, kLdC = kTileN + 4;

template <typename Problem, bool A_K_FAST, bool B_K_FAST>
__global__ void __launch_bounds__(kTf32Threads) implicit_gemm_tf32_kernel(Problem p, int64_t M, int64_t N, int64_t K,
                                                                          int64_t k_per_split,
                                                                          const float* __restrict__ bias,
                                                                          float* __restrict__ out) {
  using namespace nvcuda;
  __shared__ __align__(32) float As[kTileM][kLdA];        // [m][k]
  __shared__ __align__(32) float Bs[kTf32TileK][kLdB];    // [k][n]
  __shared__ __align__(32) float Cs[kTileM][kLdC];        // epilogue staging, [m][n]
  const int t = threadIdx.x, warp = t / 32, wm = warp / 2, wn = warp % 2;
  const int64_t m0 = int64_t(blockIdx.x) * kTileM, n0 = int64_t(blockIdx.y) * kTileN;
  const int64_t k_begin = int64_t(blockIdx.z) * k_per_split;
  const int64_t k_end = k_begin + k_per_split < K ? k_begin + k_per_split : K;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTf32TileK) {
    // 64 x 32 elements of A and 32 x 64 of B: 16 of each per thread.
#pragma unroll 4
    for (int l = 0; l < (kTileM * kTf32TileK) / kTf32Threads; ++l) {
      const int e = t + kTf32Threads * l;
      const int ka = A_K_FAST ? e % kTf32TileK : e / kTileM, ma = A_K_FAST ? e / kTf32TileK : e % kTileM;
      const int64_t gm = m0 + ma, gk = k0 + ka;
      As[ma][ka] = (gm < M && gk < k_end) ? p.a(gm, gk) : 0.0f;
      const int kb = B_K_FAST ? e % kTf32TileK : e / kTileN, nb = B_K_FAST ? e / kTf32TileK : e % kTileN;
      const int64_t gn = n0 + nb, gkb = k0 + kb;
      Bs[kb][nb] = (gn < N && gkb < k_end) ? p.b(gkb, gn) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTf32TileK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        wmma::load_matrix_sync(a[i], &As[wm * 32 + i * 16][kk], kLdA);
#pragma unroll
        for (int e = 0; e < a[i].num_elements; ++e) a[i].x[e] = wmma::__float_to_tf32(a[i].x[e]);
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        wmma::load_matrix_sync(b[j], &Bs[kk][wn * 32 + j * 16], kLdB);
#pragma unroll
        for (int e = 0; e < b[j].num_elements; ++e) b[j].x[e] = wmma::__float_to_tf32(b[j].x[e]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&Cs[wm * 32 + i * 16][wn * 32 + j * 16], acc[i][j], kLdC, wmma::mem_row_major);
  __syncthreads();
  float* slab = out + int64_t(blockIdx.z) * M * N;
  for (int e = t; e < kTileM * kTileN; e += kTf32Threads) {
    const int r = e / kTileN, c = e % kTileN;  // consecutive threads write consecutive columns
    const int64_t gm = m0 + r, gn = n0 + c;
    if (gm < M && gn < N) slab[gm * N + gn] = Cs[r][c] + (bias ? bias[gn] : 0.0f);
  }
}

std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

// out[i] = sum over z of slabs[z][i], in z order.
template <typename T>
__global__ void reduce_slabs_kernel(const T* __restrict__ slabs, int64_t splits, int64_t n, T* __restrict__ out) {
  ATROUS_GRID_STRIDE(i, n) {
    T acc = T(0);
    for (int64_t z = 0; z < splits; ++z) acc += slabs[z * n + i];
    out[i] = acc;
  }
}

template <typename T>
__global__ void add_bias_kernel(T* __restrict__ y, const T* __restrict__ bias, int64_t rows, int64_t cols) {
  ATROUS_GRID_STRIDE(i, rows * cols) y[i] += bias[i % cols];
}

// db[c] = sum over rows of dy[r, c]: 32 channels x 8 row-lanes per block, double partials per row slice, then one
// thread per channel adds the slices in order (as batch norm does).
template <typename T>
__global__ void bias_partials_kernel(const T* __restrict__ dy, int64_t rows, int64_t C, int64_t rows_per_split,
                                     double* __restrict__ partial) {
  __shared__ double sums[8][32];
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t begin = int64_t(blockIdx.y) * rows_per_split;
  const int64_t end = begin + rows_per_split < rows ? begin + rows_per_split : rows;
  double acc = 0.0;
  if (c < C)
    for (int64_t r = begin + threadIdx.y; r < end; r += 8) acc += static_cast<double>(dy[r * C + c]);
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    for (int k = 1; k < 8; ++k) acc += sums[k][threadIdx.x];
    partial[blockIdx.y * C + c] = acc;
  }
}

template <typename T>
__global__ void bias_final_kernel(const double* __restrict__ partial, int64_t splits, int64_t C, T* __restrict__ db) {
  ATROUS_GRID_STRIDE(c, C) {
    double acc = 0.0;
    for (int64_t k = 0; k < splits; ++k) acc += partial[k * C + c];
    db[c] = static_cast<T>(acc);
  }
}

// Slices of the K sum: each a multiple of the K tile long, none empty.
int64_t k_slice_length(int64_t K, int64_t wanted_splits) {
  return ((K + wanted_splits - 1) / wanted_splits + kTileK - 1) / kTileK * kTileK;
}
int64_t slice_count(int64_t K, int64_t k_per_split) { return (K + k_per_split - 1) / k_per_split; }

template <typename T, bool A_K_FAST, bool B_K_FAST, typename Problem>
void launch_gemm(int device, const Problem& p, int64_t M, int64_t N, int64_t K, int64_t k_per_split, const T* bias,
                 T* out, const char* name) {
  const int64_t splits = slice_count(K, k_per_split);
  const int64_t m_tiles = (M + kTileM - 1) / kTileM, n_tiles = (N + kTileN - 1) / kTileN;
  ATROUS_CHECK(n_tiles <= 65535 && splits <= 65535 && m_tiles <= INT_MAX, name, ": GEMM of ", M, "x", N,
               " is too large for one launch");
  const dim3 grid(static_cast<unsigned>(m_tiles), static_cast<unsigned>(n_tiles), static_cast<unsigned>(splits));
  if constexpr (std::is_same<T, float>::value) {
    if (tf32_flag().load()) {
      launch(name, grid, kTf32Threads, 0, atrous::cuda::stream(device),
             implicit_gemm_tf32_kernel<Problem, A_K_FAST, B_K_FAST>, p, M, N, K, k_per_split, bias, out);
      return;
    }
  }
  launch(name, grid, 256, 0, atrous::cuda::stream(device), implicit_gemm_kernel<T, Problem, A_K_FAST, B_K_FAST>, p, M,
         N, K, k_per_split, bias, out);
}

bool fits_int(int64_t v) { return v <= INT_MAX; }

// Row-major C[m,n] = op(A) op(B) through column-major cuBLAS: C^T = op(B)^T op(A)^T.
void gemm_rowmajor(int device, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float* c, int64_t ldc) {
  const float one = 1.0f, zero = 0.0f;
  cublasHandle_t handle = atrous::cuda::cublas_handle(device);
  ATROUS_CUBLAS_CHECK(cublasSetMathMode(handle, tf32_flag().load() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  ATROUS_CUBLAS_CHECK(cublasSgemm(handle, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), &one, b, int(ldb), a,
                                  int(lda), &zero, c, int(ldc)));
}
void gemm_rowmajor(int device, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
                   const double* b, int64_t ldb, double* c, int64_t ldc) {
  const double one = 1.0, zero = 0.0;
  ATROUS_CUBLAS_CHECK(cublasDgemm(atrous::cuda::cublas_handle(device), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), &one, b, int(ldb), a,
                                  int(lda), &zero, c, int(ldc)));
}

bool use_cublas(const Conv2dShape& s) {
  return s.is_pointwise() && fits_int(s.pixels()) && fits_int(s.cin) && fits_int(s.cout);
}

}  // namespace

template <typename T>
void conv2d_forward(int device, const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  if (s.pixels() == 0 || s.cout == 0) return;
  if (use_cublas(s)) {
    // y[P, Cout] = x[P, Cin] * w[Cout, Cin]^T
    gemm_rowmajor(device, false, true, s.pixels(), s.cout, s.cin, x, s.cin, w, s.cin, y, s.cout);
    if (bias) {
      launch_1d("conv2d add_bias_kernel", s.pixels() * s.cout, device, add_bias_kernel<T>, y, bias, s.pixels(), s.cout);
    }
    return;
  }
  launch_gemm<T, true, true>(device, ForwardProblem<T>{s, x, w}, s.pixels(), s.cout, s.patch(), s.patch(), bias, y,
                             "conv2d forward implicit_gemm_kernel");
}

template <typename T> void conv2d_backward_data(int device, const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int64_t M = s.n * s.h * s.w;
  if (M == 0 || s.cin == 0) return;
  if (use_cublas(s)) {
    // dx[P, Cin] = dy[P, Cout] * w[Cout, Cin]
    gemm_rowmajor(device, false, false, M, s.cin, s.cout, dy, s.cout, w, s.cin, dx, s.cin);
    return;
  }
  const int64_t K = s.kh * s.kw * s.cout;
  launch_gemm<T, true, false>(device, BackwardDataProblem<T>{s, dy, w}, M, s.cin, K, K, nullptr, dx,
                              "conv2d backward-data implicit_gemm_kernel");
}

template <typename T> void conv2d_backward_weight(int device, const Conv2dShape& s, const T* dy, const T* x, T* dw) {
  const int64_t M = s.cout, N = s.patch(), K = s.pixels();
  if (M * N == 0) return;
  if (use_cublas(s)) {
    // dw[Cout, Cin] = dy[P, Cout]^T * x[P, Cin]
    gemm_rowmajor(device, true, false, s.cout, s.cin, K, dy, s.cout, x, s.cin, dw, s.cin);
    return;
  }
  // The output is small (a weight) and the sum long (every pixel): split the pixels so the grid fills the device,
  // each slice at least 1024 pixels long, then add the slabs in order.
  const int64_t tiles = ((M + kTileM - 1) / kTileM) * ((N + kTileN - 1) / kTileN);
  int64_t splits = std::max<int64_t>(1, std::min<int64_t>((4 * 132 + tiles - 1) / tiles, K / 1024));
  splits = std::min<int64_t>(splits, 256);
  const BackwardWeightProblem<T> p{ForwardProblem<T>{s, x, nullptr}, dy};
  const int64_t k_per_split = k_slice_length(K, splits);
  splits = slice_count(K, k_per_split);
  if (splits == 1) {
    launch_gemm<T, false, false>(device, p, M, N, K, K, nullptr, dw, "conv2d backward-weight implicit_gemm_kernel");
    return;
  }
  Scratch slabs(static_cast<size_t>(splits * M * N) * sizeof(T), device);
  launch_gemm<T, false, false>(device, p, M, N, K, k_per_split, nullptr, slabs.as<T>(),
                               "conv2d backward-weight implicit_gemm_kernel");
  launch_1d("conv2d reduce_slabs_kernel", M * N, device, reduce_slabs_kernel<T>, slabs.as<T>(), splits, M * N, dw);
}

template <typename T> void conv2d_backward_bias(int device, const Conv2dShape& s, const T* dy, T* db) {
  const int64_t rows = s.pixels(), C = s.cout;
  if (C == 0) return;
  cudaStream_t st = atrous::cuda::stream(device);
  const int64_t channel_blocks = (C + 31) / 32;
  const int64_t splits = std::max<int64_t>(1, std::min<int64_t>({1024 / channel_blocks, rows / 64, 65535}));
  const int64_t rows_per_split = (rows + splits - 1) / splits;
  Scratch partial(static_cast<size_t>(splits * C) * sizeof(double), device);
  launch("conv2d bias_partials_kernel", dim3(static_cast<unsigned>(channel_blocks), static_cast<unsigned>(splits)),
         dim3(32, 8), 0, st, bias_partials_kernel<T>, dy, rows, C, rows_per_split, partial.as<double>());
  launch("conv2d bias_final_kernel", atrous::cuda::grid_for(C, kThreads), kThreads, 0, st, bias_final_kernel<T>,
         partial.as<double>(), splits, C, db);
}

#define ATROUS_INSTANTIATE(T)                                                                               \
  template void conv2d_forward<T>(int, const Conv2dShape&, const T*, const T*, const T*, T*);               \
  template void conv2d_backward_data<T>(int, const Conv2dShape&, const T*, const T*, T*);                   \
  template void conv2d_backward_weight<T>(int, const Conv2dShape&, const T*, const T*, T*);                 \
  template void conv2d_backward_bias<T>(int, const Conv2dShape&, const T*, T*);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)
#undef ATROUS_INSTANTIATE

}  // namespace atrous::kernels::cuda

namespace atrous::cuda {
void set_tf32_convolutions(bool on) { kernels::cuda::tf32_flag().store(on); }
bool tf32_convolutions() { return kernels::cuda::tf32_flag().load(); }
}  // namespace atrous::cuda
