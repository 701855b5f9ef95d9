// cuBLAS GEMM on the host for the simulator, with cuBLAS's contract: column-major matrices, op(X) = X or X^T,
// leading dimensions at least the stored rows, alpha/beta read from host memory (pointer mode host), the work an
// operation on the handle's stream. A column-major m x n matrix with leading dimension ld is, read row-major, its
// transpose with row stride ld, so C = op(A) op(B) is computed as the row-major C^T = op(B)^T op(A)^T with the
// project's CPU GEMM. CUBLAS_TF32_TENSOR_OP_MATH rounds f32 inputs to tf32 first, as the tensor cores do.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cuda/sim/cublas_sim.h"
#include "kernels/cuda/sim/device_state.h"
#include "kernels/cuda/sim/wmma_sim.h"
#include "kernels/gemm.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
  int device = 0;
};

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the GPU program failed to execute";
  }
  return "unknown status";
}

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasContext();
  cudaGetDevice(&(*handle)->device);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->pointer_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

namespace {

using atrous::kernels::Transpose;

// Bytes spanned by a column-major rows x cols matrix with leading dimension ld.
size_t span_bytes(int rows, int cols, int ld, size_t element) {
  return rows == 0 || cols == 0 ? 0 : (static_cast<size_t>(cols - 1) * ld + rows) * element;
}

// A column-major rows x cols operand rounded to tf32, packed with leading dimension rows.
std::vector<float> tf32_copy(const float* x, int rows, int cols, int ld) {
  std::vector<float> out(static_cast<size_t>(rows) * cols);
  for (int c = 0; c < cols; ++c)
    for (int r = 0; r < rows; ++r)
      out[static_cast<size_t>(c) * rows + r] = nvcuda::wmma::__float_to_tf32(x[static_cast<size_t>(c) * ld + r]);
  return out;
}

template <typename T>
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                    const T* alpha, const T* A, int lda, const T* B, int ldb, const T* beta, T* C, int ldc,
                    const char* name) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  const int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (h->pointer_mode != CUBLAS_POINTER_MODE_HOST || !alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const atrous::sim::StreamOp op = atrous::sim::begin_op(h->stream, name);
  atrous::sim::DeviceMemoryWindow window;
  if (k > 0) {
    atrous::sim::check_range(op, A, span_bytes(a_rows, a_cols, lda, sizeof(T)), name);
    atrous::sim::check_range(op, B, span_bytes(b_rows, b_cols, ldb, sizeof(T)), name);
  }
  atrous::sim::check_range(op, C, span_bytes(m, n, ldc, sizeof(T)), name);
  const T* a = A;
  const T* b = B;
  int la = lda, lb = ldb;
  std::vector<float> a_tf32, b_tf32;
  if constexpr (std::is_same<T, float>::value) {
    if (h->math == CUBLAS_TF32_TENSOR_OP_MATH && k > 0) {
      a_tf32 = tf32_copy(A, a_rows, a_cols, lda);
      b_tf32 = tf32_copy(B, b_rows, b_cols, ldb);
      a = a_tf32.data();
      b = b_tf32.data();
      la = a_rows;
      lb = b_rows;
    }
  }
  // Row-major C^T (n x m, stride ldc) = op(B)^T (n x k) * op(A)^T (k x m).
  atrous::kernels::gemm_parallel<T>(tb ? Transpose::yes : Transpose::no, ta ? Transpose::yes : Transpose::no, n, m, k,
                                    *alpha, b, lb, a, la, *beta, C, ldc);
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                           const float* beta, float* C, int ldc) {
  return gemm(handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, "cublasSgemm");
}

cublasStatus_t cublasDgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const double* alpha, const double* A, int lda, const double* B, int ldb,
                           const double* beta, double* C, int ldc) {
  return gemm(handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, "cublasDgemm");
}
