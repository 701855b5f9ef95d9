// Functions both the CPU code and CUDA kernels call (index formulas, random streams, lattice geometry) are marked
// ATROUS_HOST_DEVICE: __host__ __device__ under nvcc, nothing for the host compiler (which also compiles the .cu
// files for the CUDA simulator, where kernels are host code).
#pragma once

#if defined(__CUDACC__)
#define ATROUS_HOST_DEVICE __host__ __device__
#else
#define ATROUS_HOST_DEVICE
#endif
