// The packing step of the SGEMM (kernels/cpu/sgemm_packed.cpp) that reads its source across rows: `count` rows of a
// row-major matrix written side by side, out[p * count + i] = row i's element p. Both an A panel of a row-major A
// (MR rows) and a B panel of a transposed B (NR rows of b) are this. Element by element (a scalar load and store per
// float) it took ~13% of DeepLab-v2's inference; these read 16 (AVX-512) or 8 (AVX2) floats of each row and transpose
// them in registers, ~6% faster end to end. What remains (~8%) waits on memory: a 1x1 convolution's input and the
// weights are read here for the first time (software prefetch did not help).
#pragma once
#include <cstdint>

namespace atrous::kernels::sgemm {

// out[p * count + i] = i < valid ? src[i * ld + p] : 0 for p < depth, i < count; rows from valid on are not read.
// 0 <= valid <= count. The depth past the last whole group of 16 (8) is copied element by element.
using InterleaveRows = void (*)(const float* src, int64_t ld, int64_t valid, int64_t count, int64_t depth,
                                float* out);

void interleave_rows_avx512(const float* src, int64_t ld, int64_t valid, int64_t count, int64_t depth, float* out);
void interleave_rows_avx2(const float* src, int64_t ld, int64_t valid, int64_t count, int64_t depth, float* out);

}  // namespace atrous::kernels::sgemm
