// Error checking for CUDA runtime and cuBLAS calls: a failing call throws atrous::Error with the call text and
// file:line, so a report names exactly which call broke.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/error.h"

#define ATROUS_CUDA_CHECK(call)                                                                        \
  do {                                                                                                 \
    cudaError_t status_ = (call);                                                                      \
    if (status_ != cudaSuccess)                                                                        \
      ATROUS_FAIL("CUDA error: ", #call, " failed with ", cudaGetErrorName(status_), " (",             \
                  cudaGetErrorString(status_), ") at ", __FILE__, ":", __LINE__);                      \
  } while (0)

#define ATROUS_CUBLAS_CHECK(call)                                                                      \
  do {                                                                                                 \
    cublasStatus_t status_ = (call);                                                                   \
    if (status_ != CUBLAS_STATUS_SUCCESS)                                                              \
      ATROUS_FAIL("cuBLAS error: ", #call, " failed with ", cublasGetStatusName(status_), " (",        \
                  cublasGetStatusString(status_), ") at ", __FILE__, ":", __LINE__);                   \
  } while (0)

// Checks the most recent kernel launch (bad configuration, too many resources); names the kernel.
#define ATROUS_CUDA_CHECK_LAUNCH(kernel_name)                                                          \
  do {                                                                                                 \
    cudaError_t status_ = cudaGetLastError();                                                          \
    if (status_ != cudaSuccess)                                                                        \
      ATROUS_FAIL("CUDA error: launch of ", kernel_name, " failed with ", cudaGetErrorName(status_),   \
                  " (", cudaGetErrorString(status_), ") at ", __FILE__, ":", __LINE__);                \
  } while (0)
