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
// CPU tensors only, until the CUDA backend provides this op's kernel.
void cpu_kernel_only(const char* op, const Tensor& t);

}  // namespace atrous::checks
