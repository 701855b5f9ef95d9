// Error checking for CUDA runtime calls: a failing call throws atrous::Error with the call text and file:line.
#pragma once
#include <cuda_runtime.h>

#include "core/error.h"

#define ATROUS_CUDA_CHECK(call)                                                                        \
  do {                                                                                                 \
    cudaError_t status_ = (call);                                                                      \
    if (status_ != cudaSuccess)                                                                        \
      ATROUS_FAIL("CUDA error: ", #call, " failed with ", cudaGetErrorName(status_), " (",             \
                  cudaGetErrorString(status_), ") at ", __FILE__, ":", __LINE__);                      \
  } while (0)

// Checks the most recent kernel launch.
#define ATROUS_CUDA_CHECK_LAUNCH(kernel_name) ATROUS_CUDA_CHECK(cudaGetLastError())
