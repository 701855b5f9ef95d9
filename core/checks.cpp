#include "core/checks.h"

namespace atrous::checks {

void defined(const char* op, const char* arg, const Tensor& t) {
  ATROUS_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
}

void floating(const char* op, const char* arg, const Tensor& t) {
  defined(op, arg, t);
  ATROUS_CHECK(is_floating(t.dtype()), op, ": '", arg, "' must be f32 or f64, got ", t.description());
}

void dtype(const char* op, const char* arg, const Tensor& t, DType expected) {
  defined(op, arg, t);
  ATROUS_CHECK(t.dtype() == expected, op, ": '", arg, "' must be ", dtype_name(expected), ", got ", t.description());
}

void rank(const char* op, const char* arg, const Tensor& t, int64_t expected, const char* layout) {
  defined(op, arg, t);
  ATROUS_CHECK(t.dim() == expected, op, ": '", arg, "' must be ", expected, "-D", (*layout ? " " : ""), layout,
               ", got ", t.description());
}

void same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  ATROUS_CHECK(a.shape() == b.shape(), op, ": '", a_name, "' ", a.description(), " and '", b_name, "' ",
               b.description(), " must have the same shape");
}

void same_dtype(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  ATROUS_CHECK(a.dtype() == b.dtype(), op, ": '", a_name, "' ", a.description(), " and '", b_name, "' ",
               b.description(), " must have the same dtype");
}

void same_device(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  ATROUS_CHECK(a.device() == b.device(), op, ": '", a_name, "' ", a.description(), " and '", b_name, "' ",
               b.description(), " must be on the same device");
}

void nhwc(const char* op, const char* arg, const Tensor& t) {
  floating(op, arg, t);
  rank(op, arg, t, 4, "NHWC");
}

void cpu_kernel_only(const char* op, const Tensor& t) {
  ATROUS_CHECK(t.device().is_cpu(), op, ": no CUDA kernel for this op in this build yet (got ", t.description(),
               "); move the tensors to the CPU");
}

}  // namespace atrous::checks
