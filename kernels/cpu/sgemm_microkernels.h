// The register-blocked inner products of the packed SGEMM (kernels/cpu/sgemm_packed.cpp): one MR x NR block of C
// from an A panel and a B panel of depth kc. Each is compiled for its instruction set by a target attribute, whatever
// the rest of the build targets, and only called on a CPU that has it.
#pragma once
#include <cstdint>

#include "kernels/cpu/sgemm_interleave.h"

namespace atrous::kernels::sgemm {

// c[i * ldc + j] = alpha * sum_p a[p * MR + i] * b[p * NR + j] + beta * c[i * ldc + j] for i < MR, j < NR; beta == 0
// writes c without reading it. b is 64-byte aligned.
using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                             float beta);

struct KernelShape {
  int mr, nr;  // rows of C (one broadcast A value each) and columns (whole vectors of B)
  MicroKernel kernel;
  InterleaveRows interleave;  // packs panels that are rows of the source, in the same instruction set
};

KernelShape avx512_kernel();  // 12 x 32: 24 zmm accumulators
KernelShape avx2_kernel();    // 6 x 16: 12 ymm accumulators

}  // namespace atrous::kernels::sgemm
