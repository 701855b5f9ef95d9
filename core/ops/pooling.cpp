// Pooling ops: Caffe ceil-mode output sizes, argument checks, device dispatch and backward closures.
#include "core/ops/pooling.h"

#include <limits>

#include "core/autograd.h"
#include "core/checks.h"
#include "kernels/pooling.h"

namespace atrous {
namespace {

// Checks x and the window and returns the kernel's shape; the output must have at least one pixel.
kernels::Pool2dShape pool_shape(const char* op, const Tensor& x, const Pool2dParams& p) {
  checks::nhwc(op, "x", x);
  ATROUS_CHECK(p.kernel >= 1, op, ": kernel must be >= 1, got ", p.kernel);
  ATROUS_CHECK(p.stride >= 1, op, ": stride must be >= 1, got ", p.stride);
  ATROUS_CHECK(p.padding >= 0, op, ": padding must be >= 0, got ", p.padding);
  // A wider pad could leave windows entirely in the padding (PyTorch refuses it too).
  ATROUS_CHECK(p.padding <= p.kernel / 2, op, ": padding ", p.padding, " must be at most half the kernel ", p.kernel);
  kernels::Pool2dShape s;
  s.batch = x.size(0);
  s.in_h = x.size(1);
  s.in_w = x.size(2);
  s.channels = x.size(3);
  s.out_h = pool2d_output_size(s.in_h, p);
  s.out_w = pool2d_output_size(s.in_w, p);
  s.kernel = p.kernel;
  s.stride = p.stride;
  s.padding = p.padding;
  ATROUS_CHECK(s.out_h >= 1 && s.out_w >= 1, op, ": input ", x.description(), " is too small for kernel ", p.kernel,
               ", stride ", p.stride, ", padding ", p.padding, " (output would be ", s.out_h, "x", s.out_w, ")");
  return s;
}

Shape output_shape(const kernels::Pool2dShape& s) { return {s.batch, s.out_h, s.out_w, s.channels}; }
Shape input_shape(const kernels::Pool2dShape& s) { return {s.batch, s.in_h, s.in_w, s.channels}; }

}  // namespace

int64_t pool2d_output_size(int64_t in, const Pool2dParams& p) {
  ATROUS_CHECK(p.kernel >= 1 && p.stride >= 1 && p.padding >= 0,
               "pool2d_output_size: needs kernel >= 1, stride >= 1,"
               " padding >= 0, got kernel ",
               p.kernel, ", stride ", p.stride, ", padding ", p.padding);
  const int64_t span = in + 2 * static_cast<int64_t>(p.padding) - p.kernel;
  if (span < 0) return 0;  // not even one window fits
  int64_t out = (p.ceil_mode ? (span + p.stride - 1) / p.stride : span / p.stride) + 1;
  // Caffe and PyTorch: in ceil mode the last window must start inside the input or its left padding.
  if (p.ceil_mode && (out - 1) * p.stride >= in + p.padding) --out;
  return out;
}

Tensor max_pool2d(const Tensor& x_in, const Pool2dParams& params) {
  const kernels::Pool2dShape s = pool_shape("max_pool2d", x_in, params);
  ATROUS_CHECK(s.in_h * s.in_w <= std::numeric_limits<int32_t>::max(), "max_pool2d: ", x_in.description(),
               " has too many pixels per image for int32 argmax indices");
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(output_shape(s), x.dtype(), x.device());
  Tensor argmax = Tensor::empty(output_shape(s), DType::i32, x.device());
  dispatch_floating(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(
          kernels::cuda::max_pool2d_forward<T>(x.device().index, x.data<T>(), s, y.data<T>(), argmax.data<int32_t>()));
    } else {
      kernels::max_pool2d_forward_cpu<T>(x.data<T>(), s, y.data<T>(), argmax.data<int32_t>());
    }
  });
  if (!any_requires_grad({x_in})) return y;
  return record_op("max_pool2d", y, {x_in}, [argmax, s](const Tensor& g_in, const std::vector<bool>&) {
    Tensor g = g_in.contiguous();
    Tensor dx = Tensor::empty(input_shape(s), g.dtype(), g.device());
    dispatch_floating(g.dtype(), "max_pool2d backward", [&](auto tag) {
      using T = decltype(tag);
      if (g.device().is_cuda()) {
        ATROUS_CUDA_ONLY(kernels::cuda::max_pool2d_backward<T>(g.device().index, g.data<T>(), argmax.data<int32_t>(), s,
                                                               dx.data<T>()));
      } else {
        kernels::max_pool2d_backward_cpu<T>(g.data<T>(), argmax.data<int32_t>(), s, dx.data<T>());
      }
    });
    return std::vector<Tensor>{dx};
  });
}

Tensor avg_pool2d(const Tensor& x_in, const Pool2dParams& params) {
  const kernels::Pool2dShape s = pool_shape("avg_pool2d", x_in, params);
  const bool include_pad = params.count_include_pad;
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(output_shape(s), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(
          kernels::cuda::avg_pool2d_forward<T>(x.device().index, x.data<T>(), s, include_pad, y.data<T>()));
    } else {
      kernels::avg_pool2d_forward_cpu<T>(x.data<T>(), s, include_pad, y.data<T>());
    }
  });
  return record_op("avg_pool2d", y, {x_in}, [s, include_pad](const Tensor& g_in, const std::vector<bool>&) {
    Tensor g = g_in.contiguous();
    Tensor dx = Tensor::empty(input_shape(s), g.dtype(), g.device());
    dispatch_floating(g.dtype(), "avg_pool2d backward", [&](auto tag) {
      using T = decltype(tag);
      if (g.device().is_cuda()) {
        ATROUS_CUDA_ONLY(
            kernels::cuda::avg_pool2d_backward<T>(g.device().index, g.data<T>(), s, include_pad, dx.data<T>()));
      } else {
        kernels::avg_pool2d_backward_cpu<T>(g.data<T>(), s, include_pad, dx.data<T>());
      }
    });
    return std::vector<Tensor>{dx};
  });
}

Tensor global_avg_pool(const Tensor& x_in) {
  checks::nhwc("global_avg_pool", "x", x_in);
  const int64_t N = x_in.size(0), H = x_in.size(1), W = x_in.size(2), C = x_in.size(3);
  ATROUS_CHECK(H >= 1 && W >= 1, "global_avg_pool: needs at least one pixel, got ", x_in.description());
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({N, 1, 1, C}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "global_avg_pool", [&](auto tag) {
    using T = decltype(tag);
    if (x.device().is_cuda()) {
      ATROUS_CUDA_ONLY(
          kernels::cuda::global_avg_pool_forward<T>(x.device().index, x.data<T>(), N, H * W, C, y.data<T>()));
    } else {
      kernels::global_avg_pool_forward_cpu<T>(x.data<T>(), N, H * W, C, y.data<T>());
    }
  });
  return record_op("global_avg_pool", y, {x_in}, [shape = x.shape()](const Tensor& g_in, const std::vector<bool>&) {
    Tensor g = g_in.contiguous();
    Tensor dx = Tensor::empty(shape, g.dtype(), g.device());
    dispatch_floating(g.dtype(), "global_avg_pool backward", [&](auto tag) {
      using T = decltype(tag);
      if (g.device().is_cuda()) {
        ATROUS_CUDA_ONLY(kernels::cuda::global_avg_pool_backward<T>(g.device().index, g.data<T>(), shape[0],
                                                                    shape[1] * shape[2], shape[3], dx.data<T>()));
      } else {
        kernels::global_avg_pool_backward_cpu<T>(g.data<T>(), shape[0], shape[1] * shape[2], shape[3], dx.data<T>());
      }
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace atrous
