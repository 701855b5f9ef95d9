// Elementwise ops: argument checks, device dispatch (CPU kernels / CUDA launchers), backward closures.
#include "core/ops/elementwise.h"

#include "core/autograd.h"
#include "core/checks.h"
#include "kernels/elementwise.h"

namespace atrous {
namespace {

void check_binary(const char* op, const Tensor& a, const Tensor& b) {
  checks::floating(op, "a", a);
  checks::floating(op, "b", b);
  checks::same_shape(op, "a", a, "b", b);
  checks::same_dtype(op, "a", a, "b", b);
  checks::same_device(op, "a", a, "b", b);
}

// Runs a binary kernel on contiguous copies of a and b into a fresh output: cpu(a, b, out, n) or
// cuda(device, a, b, out, n).
template <typename Cpu, typename Cuda>
Tensor binary(const char* op, const Tensor& a_in, const Tensor& b_in, Cpu cpu, Cuda cuda) {
  check_binary(op, a_in, b_in);
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_floating(a.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    if (a.device().is_cuda()) {
      ATROUS_CUDA_ONLY(cuda(a.device().index, a.data<T>(), b.data<T>(), out.data<T>(), a.numel()));
    } else {
      cpu(a.data<T>(), b.data<T>(), out.data<T>(), a.numel());
    }
  });
  return out;
}

// out = alpha * a + beta * b on a's device (b may be null when beta is 0).
template <typename T>
void axpby_on(Device device, T alpha, const T* a, T beta, const T* b, T* out, int64_t n) {
  if (device.is_cuda()) {
    ATROUS_CUDA_ONLY(kernels::cuda::axpby<T>(device.index, alpha, a, beta, b, out, n));
  } else {
    kernels::axpby_cpu<T>(alpha, a, beta, b, out, n);
  }
}

// The gradient through a ReLU, from its output y (so that in-place ReLU would stay correct) and the output's
// gradient g.
Tensor relu_backward(const Tensor& y, const Tensor& g_in) {
  Tensor g = g_in.contiguous();
  Tensor dx = Tensor::empty(g.shape(), g.dtype(), g.device());
  dispatch_floating(g.dtype(), "relu backward", [&](auto tag) {
    using T = decltype(tag);
    if (g.device().is_cuda()) {
      ATROUS_CUDA_ONLY(
          kernels::cuda::relu_backward<T>(g.device().index, y.data<T>(), g.data<T>(), dx.data<T>(), g.numel()));
    } else {
      kernels::relu_backward_cpu(y.data<T>(), g.data<T>(), dx.data<T>(), g.numel());
    }
  });
  return dx;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary(
      "add", a, b, [](auto* x, auto* y, auto* o, int64_t n) { kernels::add_cpu(x, y, o, n); },
      [](int d, auto* x, auto* y, auto* o, int64_t n) { ATROUS_CUDA_ONLY(kernels::cuda::add(d, x, y, o, n)); });
  return record_op("add", out, {a, b}, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g, g};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary(
      "sub", a, b, [](auto* x, auto* y, auto* o, int64_t n) { kernels::sub_cpu(x, y, o, n); },
      [](int d, auto* x, auto* y, auto* o, int64_t n) { ATROUS_CUDA_ONLY(kernels::cuda::sub(d, x, y, o, n)); });
  return record_op("sub", out, {a, b}, [](const Tensor& g, const std::vector<bool>& needs) {
    return std::vector<Tensor>{g, needs[1] ? scale(g, -1.0) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary(
      "mul", a, b, [](auto* x, auto* y, auto* o, int64_t n) { kernels::mul_cpu(x, y, o, n); },
      [](int d, auto* x, auto* y, auto* o, int64_t n) { ATROUS_CUDA_ONLY(kernels::cuda::mul(d, x, y, o, n)); });
  const bool track = any_requires_grad({a, b});
  return record_op("mul", out, {a, b},
                   [a = track ? a.detach() : Tensor(), b = track ? b.detach() : Tensor()](
                       const Tensor& g, const std::vector<bool>& needs) {
                     return std::vector<Tensor>{needs[0] ? mul(g, b) : Tensor(), needs[1] ? mul(g, a) : Tensor()};
                   });
}

Tensor scale(const Tensor& a_in, double s) {
  checks::floating("scale", "a", a_in);
  Tensor a = a_in.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_floating(a.dtype(), "scale", [&](auto tag) {
    using T = decltype(tag);
    axpby_on<T>(a.device(), static_cast<T>(s), a.data<T>(), T(0), nullptr, out.data<T>(), a.numel());
  });
  return record_op("scale", out, {a_in}, [s](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{scale(g, s)};
  });
}

Tensor sum(const Tensor& a_in) {
  checks::floating("sum", "a", a_in);
  Tensor a = a_in.contiguous();
  Tensor out = Tensor::empty({}, a.dtype(), a.device());
  dispatch_floating(a.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    if (a.device().is_cuda()) {
      ATROUS_CUDA_ONLY(kernels::cuda::sum<T>(a.device().index, a.data<T>(), out.data<T>(), a.numel()));
    } else {
      *out.data<T>() = kernels::sum_cpu(a.data<T>(), a.numel());
    }
  });
  return record_op("sum", out, {a_in}, [shape = a.shape()](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{Tensor::full(shape, g.item_as_double(), g.dtype(), g.device())};
  });
}

Tensor mean(const Tensor& a) {
  ATROUS_CHECK(a.defined() && a.numel() > 0, "mean: needs a non-empty tensor, got ", a.description());
  return scale(sum(a), 1.0 / static_cast<double>(a.numel()));
}

Tensor relu(const Tensor& x_in) {
  checks::floating("relu", "x", x_in);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "relu", [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(kernels::cuda::relu_forward<T>(x.device().index, x.data<T>(), y.data<T>(), x.numel()));
    } else {
      kernels::relu_forward_cpu(x.data<T>(), y.data<T>(), x.numel());
    }
  });
  const bool track = any_requires_grad({x_in});
  return record_op("relu", y, {x_in}, [y = track ? y.detach() : Tensor()](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{relu_backward(y, g)};
  });
}

Tensor add_relu(const Tensor& a, const Tensor& b) {
  Tensor y = binary(
      "add_relu", a, b, [](auto* x, auto* z, auto* o, int64_t n) { kernels::add_relu_cpu(x, z, o, n); },
      [](int d, auto* x, auto* z, auto* o, int64_t n) {
        ATROUS_CUDA_ONLY(kernels::cuda::add(d, x, z, o, n));
        ATROUS_CUDA_ONLY(kernels::cuda::relu_forward(d, o, o, n));
      });
  const bool track = any_requires_grad({a, b});
  return record_op("add_relu", y, {a, b},
                   [y = track ? y.detach() : Tensor()](const Tensor& g, const std::vector<bool>&) {
                     const Tensor dx = relu_backward(y, g);
                     return std::vector<Tensor>{dx, dx};
                   });
}

Tensor maximum(const Tensor& a_in, const Tensor& b_in) {
  Tensor out = binary(
      "maximum", a_in, b_in, [](auto* x, auto* y, auto* o, int64_t n) { kernels::maximum_forward_cpu(x, y, o, n); },
      [](int d, auto* x, auto* y, auto* o, int64_t n) {
        ATROUS_CUDA_ONLY(kernels::cuda::maximum_forward(d, x, y, o, n));
      });
  const bool track = any_requires_grad({a_in, b_in});
  return record_op(
      "maximum", out, {a_in, b_in},
      [a = track ? a_in.contiguous().detach() : Tensor(), b = track ? b_in.contiguous().detach() : Tensor()](
          const Tensor& g_in, const std::vector<bool>& needs) {
        Tensor g = g_in.contiguous();
        Tensor da = needs[0] ? Tensor::empty(g.shape(), g.dtype(), g.device()) : Tensor();
        Tensor db = needs[1] ? Tensor::empty(g.shape(), g.dtype(), g.device()) : Tensor();
        dispatch_floating(g.dtype(), "maximum backward", [&](auto tag) {
          using T = decltype(tag);
          T* da_ptr = da.defined() ? da.data<T>() : nullptr;
          T* db_ptr = db.defined() ? db.data<T>() : nullptr;
          if (g.device().is_cuda()) {
            ATROUS_CUDA_ONLY(kernels::cuda::maximum_backward<T>(g.device().index, a.data<T>(), b.data<T>(),
                                                                g.data<T>(), da_ptr, db_ptr, g.numel()));
          } else {
            kernels::maximum_backward_cpu(a.data<T>(), b.data<T>(), g.data<T>(), da_ptr, db_ptr, g.numel());
          }
        });
        return std::vector<Tensor>{da, db};
      });
}

void axpy_(Tensor& dst, double alpha, const Tensor& src_in) {
  check_binary("axpy_", dst, src_in);
  ATROUS_CHECK(dst.is_contiguous(), "axpy_: destination must be contiguous, got a strided view ", dst.description());
  Tensor src = src_in.contiguous();
  dispatch_floating(dst.dtype(), "axpy_", [&](auto tag) {
    using T = decltype(tag);
    axpby_on<T>(dst.device(), T(1), dst.data<T>(), static_cast<T>(alpha), src.data<T>(), dst.data<T>(), dst.numel());
  });
}

void add_(Tensor& dst, const Tensor& src) { axpy_(dst, 1.0, src); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator*(const Tensor& a, double s) { return scale(a, s); }
Tensor operator*(double s, const Tensor& a) { return scale(a, s); }

}  // namespace atrous
