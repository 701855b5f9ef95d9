// Argument checks shared by the functional ops. Each throws atrous::Error naming the op and the offending tensor.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace atrous::checks {

void defined(const char* op, const char* arg, const Tensor& t);
void floating(const char* op, const char* arg, const Tensor& t);
void dtype(const char* op, const char* arg, const Tensor& t, DType expected);
void rank(const char* op, const char* arg, const Tensor& t, int64_t expected, const char* layout = "");
void same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b);
void same_dtype(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b);
void same_device(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b);
// A 4-D NHWC floating activation.
void nhwc(const char* op, const char* arg, const Tensor& t);
// CPU tensors only, for an op that has no CUDA kernel.
void cpu_kernel_only(const char* op, const Tensor& t);

}  // namespace atrous::checks

// Device dispatch: ops run `ATROUS_CUDA_ONLY(launcher call);` for CUDA tensors. CUDA builds compile the call; CPU-only
// builds never hold a CUDA tensor (allocation fails first) and must not reference the CUDA launchers, so there the
// branch is an error naming the op.
#if ATROUS_HAS_CUDA
#define ATROUS_CUDA_ONLY(...) __VA_ARGS__
#else
#define ATROUS_CUDA_ONLY(...) ATROUS_FAIL("a CUDA tensor reached ", __func__, " in a CPU-only build")
#endif
