// Differentiable views: reshape, permute, slice. They share storage with their source.
#include <algorithm>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/tensor.h"

namespace atrous {
namespace {

Tensor make_view(const Tensor& src, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = src.impl()->storage;
  impl->offset = offset;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->dtype = src.dtype();
  return Tensor(impl);
}

}  // namespace

Tensor Tensor::reshape(const Shape& new_shape_in) const {
  Shape new_shape = new_shape_in;
  int64_t known = 1, inferred = -1;
  for (size_t i = 0; i < new_shape.size(); ++i) {
    if (new_shape[i] == -1) {
      ATROUS_CHECK(inferred < 0, "reshape: more than one -1 in ", shape_str(new_shape_in));
      inferred = static_cast<int64_t>(i);
    } else {
      known *= new_shape[i];
    }
  }
  if (inferred >= 0) {
    ATROUS_CHECK(known > 0 && numel() % known == 0, "reshape: cannot reshape ", description(), " to ",
                 shape_str(new_shape_in));
    new_shape[inferred] = numel() / known;
  }
  ATROUS_CHECK(shape_numel(new_shape) == numel(), "reshape: ", description(), " has ", numel(),
               " elements, target shape ", shape_str(new_shape_in), " has ", shape_numel(new_shape));
  Tensor src = contiguous();
  Tensor out = make_view(src.detach(), new_shape, contiguous_strides(new_shape), src.impl()->offset);
  return record_op("reshape", out, {*this}, [old_shape = shape()](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.reshape(old_shape)};
  });
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
  const int64_t rank = dim();
  ATROUS_CHECK(static_cast<int64_t>(order.size()) == rank, "permute: order has ", order.size(), " entries for ",
               description());
  std::vector<bool> seen(rank, false);
  Shape shape_out(rank), strides_out(rank);
  for (int64_t i = 0; i < rank; ++i) {
    const int64_t d = order[i];
    ATROUS_CHECK(d >= 0 && d < rank && !seen[d], "permute: order is not a permutation of 0..", rank - 1);
    seen[d] = true;
    shape_out[i] = shape()[d];
    strides_out[i] = strides()[d];
  }
  Tensor out = make_view(*this, shape_out, strides_out, impl()->offset);
  std::vector<int64_t> inverse(rank);
  for (int64_t i = 0; i < rank; ++i) inverse[order[i]] = i;
  return record_op("permute", out, {*this}, [inverse](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.permute(inverse).contiguous()};
  });
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end) const {
  const int64_t rank = dim();
  ATROUS_CHECK(d >= -rank && d < rank, "slice: dimension ", d, " out of range for ", description());
  if (d < 0) d += rank;
  const int64_t extent = shape()[d];
  ATROUS_CHECK(0 <= start && start <= end && end <= extent, "slice: range [", start, ", ", end,
               ") out of bounds for dimension ", d, " of ", description());
  Shape shape_out = shape();
  shape_out[d] = end - start;
  Tensor out = make_view(*this, shape_out, strides(), impl()->offset + start * strides()[d]);
  return record_op("slice", out, {*this},
                   [full = shape(), d, start, end](const Tensor& g, const std::vector<bool>&) {
                     Tensor dx = Tensor::zeros(full, g.dtype(), g.device());
                     dx.slice(d, start, end).copy_(g);
                     return std::vector<Tensor>{dx};
                   });
}

}  // namespace atrous
