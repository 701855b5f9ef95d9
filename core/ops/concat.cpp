// Concatenation along the last (channel) axis: argument checks, device dispatch, and a backward that slices the
// gradient back into one piece per input that needs it.
#include "core/ops/concat.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/checks.h"
#include "kernels/concat.h"

namespace atrous {
namespace {

constexpr const char* kOp = "concat_channels";

void check_inputs(const std::vector<Tensor>& inputs) {
  ATROUS_CHECK(!inputs.empty(), kOp, ": needs at least one input");
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = inputs[k];
    ATROUS_CHECK(t.defined(), kOp, ": input ", k, " is an undefined tensor");
    ATROUS_CHECK(t.dim() >= 1, kOp, ": input ", k, " ", t.description(), " needs at least one axis");
    const Tensor& first = inputs[0];
    ATROUS_CHECK(t.dtype() == first.dtype() && t.device() == first.device(), kOp, ": input ", k, " ",
                 t.description(), " must have the dtype and device of input 0 ", first.description());
    const Shape& a = first.shape();
    const Shape& b = t.shape();
    ATROUS_CHECK(a.size() == b.size() && std::equal(a.begin(), a.end() - 1, b.begin()), kOp, ": input ", k, " ",
                 t.description(), " must match input 0 ", first.description(), " in every axis but the last");
  }
}

}  // namespace

Tensor concat_channels(const std::vector<Tensor>& inputs_in) {
  check_inputs(inputs_in);
  std::vector<Tensor> inputs;
  std::vector<int64_t> widths;
  for (const Tensor& t : inputs_in) {
    inputs.push_back(t.contiguous());
    widths.push_back(t.size(-1));
  }
  Shape out_shape = inputs[0].shape();
  out_shape.back() = 0;
  for (int64_t w : widths) out_shape.back() += w;
  const int64_t rows = shape_numel(Shape(out_shape.begin(), out_shape.end() - 1));
  const int64_t pieces = static_cast<int64_t>(inputs.size());

  Tensor out = Tensor::empty(out_shape, inputs[0].dtype(), inputs[0].device());
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (out.device().is_cuda()) {
      // One column-block copy per piece (few pieces: ASPP has five).
      int64_t offset = 0;
      for (int64_t k = 0; k < pieces; ++k) {
        ATROUS_CUDA_ONLY(kernels::cuda::copy_columns<T>(out.device().index, inputs[k].data<T>(), widths[k], 0,
                                                        out.data<T>(), out_shape.back(), offset, rows, widths[k]));
        offset += widths[k];
      }
      return;
    }
    std::vector<const T*> sources;
    for (const Tensor& t : inputs) sources.push_back(t.data<T>());
    kernels::concat_last_axis_cpu(sources.data(), widths.data(), pieces, rows, out.data<T>());
  });

  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  return record_op(kOp, out, inputs_in,
                   [shapes, widths, rows, pieces](const Tensor& g_in, const std::vector<bool>& needs) {
                     Tensor g = g_in.contiguous();
                     std::vector<Tensor> grads(pieces);
                     dispatch_floating(g.dtype(), "concat_channels backward", [&](auto tag) {
                       using T = decltype(tag);
                       std::vector<T*> targets(pieces, nullptr);
                       int64_t offset = 0;
                       for (int64_t k = 0; k < pieces; ++k) {
                         offset += k > 0 ? widths[k - 1] : 0;
                         if (!needs[k]) continue;
                         grads[k] = Tensor::empty(shapes[k], g.dtype(), g.device());
                         targets[k] = grads[k].data<T>();
                         if (g.device().is_cuda()) {
                           ATROUS_CUDA_ONLY(kernels::cuda::copy_columns<T>(g.device().index, g.data<T>(), g.size(-1),
                                                                           offset, targets[k], widths[k], 0, rows,
                                                                           widths[k]));
                         }
                       }
                       if (g.device().is_cuda()) return;
                       kernels::split_last_axis_cpu(g.data<T>(), rows, targets.data(), widths.data(), pieces);
                     });
                     return grads;
                   });
}

}  // namespace atrous
