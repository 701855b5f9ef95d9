// Elementwise CUDA kernels (grid-stride loops over contiguous arrays) and the deterministic sum.
#include "kernels/elementwise.h"

#include <algorithm>

#include "kernels/cuda/common.cuh"

namespace atrous::kernels::cuda {
namespace {

template <typename T, typename F> __global__ void binary_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                                                T* __restrict__ out, int64_t n, F f) {
  ATROUS_GRID_STRIDE(i, n) out[i] = f(a[i], b[i]);
}

template <typename T, typename F> void launch_binary(int device, const T* a, const T* b, T* out, int64_t n, F f,
                                                     const char* name) {
  if (n == 0) return;
  launch_1d(name, n, device, binary_kernel<T, F>, a, b, out, n, f);
}

template <typename T> struct Add { __device__ T operator()(T a, T b) const { return a + b; } };
template <typename T> struct Sub { __device__ T operator()(T a, T b) const { return a - b; } };
template <typename T> struct Mul { __device__ T operator()(T a, T b) const { return a * b; } };
// Ties pick a, as maximum_forward_cpu does (and so does its NaN behaviour: a >= b is false for NaN).
template <typename T> struct Max {
  __device__ T operator()(T a, T b) const { return a >= b ? a : b; }
};
// dx = dy where y > 0.
template <typename T> struct ReluGrad { __device__ T operator()(T y, T dy) const { return y > T(0) ? dy : T(0); } };

// out may alias a or b (axpy_ accumulates in place): no __restrict__ here.
template <typename T>
__global__ void axpby_alias_kernel(T alpha, const T* a, T beta, const T* b, T* out, int64_t n) {
  ATROUS_GRID_STRIDE(i, n) out[i] = b ? alpha * a[i] + beta * b[i] : alpha * a[i];
}

template <typename T> __global__ void relu_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  ATROUS_GRID_STRIDE(i, n) {
    const T v = x[i];
    y[i] = v > T(0) ? v : T(0);  // as relu_forward_cpu: NaN gives 0
  }
}

template <typename T>
__global__ void maximum_backward_kernel(const T* __restrict__ a, const T* __restrict__ b, const T* __restrict__ dy,
                                        T* __restrict__ da, T* __restrict__ db, int64_t n) {
  ATROUS_GRID_STRIDE(i, n) {
    const bool to_a = a[i] >= b[i];
    if (da) da[i] = to_a ? dy[i] : T(0);
    if (db) db[i] = to_a ? T(0) : dy[i];
  }
}

// Stage 1 of the sum: each block adds a fixed slice; stage 2: one block adds the partials in order.
constexpr int kSumBlocks = 512;

template <typename T>
__global__ void sum_partials_kernel(const T* __restrict__ a, int64_t n, double* __restrict__ partials) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    acc += static_cast<double>(a[i]);
  acc = block_sum(acc, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

template <typename T> __global__ void sum_final_kernel(const double* __restrict__ partials, int count, T* out) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
  acc = block_sum(acc, shared);
  if (threadIdx.x == 0) *out = static_cast<T>(acc);
}

}  // namespace

template <typename T> void add(int device, const T* a, const T* b, T* out, int64_t n) {
  launch_binary(device, a, b, out, n, Add<T>{}, "add_kernel");
}
template <typename T> void sub(int device, const T* a, const T* b, T* out, int64_t n) {
  launch_binary(device, a, b, out, n, Sub<T>{}, "sub_kernel");
}
template <typename T> void mul(int device, const T* a, const T* b, T* out, int64_t n) {
  launch_binary(device, a, b, out, n, Mul<T>{}, "mul_kernel");
}
template <typename T> void maximum_forward(int device, const T* a, const T* b, T* out, int64_t n) {
  launch_binary(device, a, b, out, n, Max<T>{}, "maximum_kernel");
}
template <typename T> void relu_backward(int device, const T* y, const T* dy, T* dx, int64_t n) {
  launch_binary(device, y, dy, dx, n, ReluGrad<T>{}, "relu_backward_kernel");
}

template <typename T> void axpby(int device, T alpha, const T* a, T beta, const T* b, T* out, int64_t n) {
  if (n == 0) return;
  launch_1d("axpby_kernel", n, device, axpby_alias_kernel<T>, alpha, a, beta, beta == T(0) ? nullptr : b, out, n);
}

template <typename T> void sum(int device, const T* a, T* out, int64_t n) {
  cudaStream_t st = atrous::cuda::stream(device);
  Scratch partials(kSumBlocks * sizeof(double), device);
  const unsigned blocks = n == 0 ? 1 : std::min<unsigned>(kSumBlocks, atrous::cuda::grid_for(n, kThreads));
  launch("sum_partials_kernel", blocks, kThreads, 0, st, sum_partials_kernel<T>, a, n, partials.as<double>());
  launch("sum_final_kernel", 1, kThreads, 0, st, sum_final_kernel<T>, partials.as<double>(), static_cast<int>(blocks),
         out);
}

template <typename T> void relu_forward(int device, const T* x, T* y, int64_t n) {
  if (n == 0) return;
  launch_1d("relu_kernel", n, device, relu_kernel<T>, x, y, n);
}

template <typename T>
void maximum_backward(int device, const T* a, const T* b, const T* dy, T* da, T* db, int64_t n) {
  if (n == 0) return;
  launch_1d("maximum_backward_kernel", n, device, maximum_backward_kernel<T>, a, b, dy, da, db, n);
}

#define ATROUS_INSTANTIATE(T)                                                                                   \
  template void add<T>(int, const T*, const T*, T*, int64_t);                                                   \
  template void sub<T>(int, const T*, const T*, T*, int64_t);                                                   \
  template void mul<T>(int, const T*, const T*, T*, int64_t);                                                   \
  template void axpby<T>(int, T, const T*, T, const T*, T*, int64_t);                                           \
  template void sum<T>(int, const T*, T*, int64_t);                                                             \
  template void relu_forward<T>(int, const T*, T*, int64_t);                                                    \
  template void relu_backward<T>(int, const T*, const T*, T*, int64_t);                                         \
  template void maximum_forward<T>(int, const T*, const T*, T*, int64_t);                                       \
  template void maximum_backward<T>(int, const T*, const T*, const T*, T*, T*, int64_t);
ATROUS_INSTANTIATE(float)
ATROUS_INSTANTIATE(double)
#undef ATROUS_INSTANTIATE

}  // namespace atrous::kernels::cuda
