// Tensor construction, views, copies and printing.
#include "core/tensor.h"

#include <cmath>
#include <cstring>
#include <iomanip>
#include <numeric>
#include <ostream>
#include <sstream>

#include "core/autograd.h"
#include "core/checks.h"
#include "core/cuda/copy.h"
#include "core/cuda_runtime.h"
#include "core/random.h"

namespace atrous {
namespace {

std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype, Device device, bool pinned = false) {
  for (int64_t d : shape) ATROUS_CHECK(d >= 0, "Tensor: negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  impl->storage =
      std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device, pinned);
  return impl;
}

// Visits every element offset (in elements, relative to the storage) of a strided tensor in logical order.
template <typename Fn>
void for_each_offset(const TensorImpl& t, Fn&& fn) {
  const int64_t n = shape_numel(t.shape);
  if (n == 0) return;
  const size_t rank = t.shape.size();
  std::vector<int64_t> index(rank, 0);
  int64_t offset = t.offset;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, offset);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < t.shape[d]) {
        offset += t.strides[d];
        break;
      }
      offset -= t.strides[d] * (t.shape[d] - 1);
      index[d] = 0;
    }
  }
}

// Strided -> contiguous copy on the CPU.
void gather_contiguous(const TensorImpl& src, void* dst) {
  const size_t elem = dtype_size(src.dtype);
  const auto* base = static_cast<const char*>(src.storage->data());
  auto* out = static_cast<char*>(dst);
  for_each_offset(src, [&](int64_t i, int64_t offset) { std::memcpy(out + i * elem, base + offset * elem, elem); });
}

// A CUDA view's layout for the device copy kernels, its storage base and element size.
cuda::StridedLayout device_layout(const TensorImpl& t, const char* op) {
  ATROUS_CHECK(t.shape.size() <= static_cast<size_t>(cuda::kMaxCopyRank), op, ": a CUDA view of rank ",
               t.shape.size(), " (at most ", cuda::kMaxCopyRank, ")");
  cuda::StridedLayout layout;
  layout.rank = static_cast<int>(t.shape.size());
  for (int d = 0; d < layout.rank; ++d) {
    layout.shape[d] = t.shape[d];
    layout.strides[d] = t.strides[d];
  }
  return layout;
}
const char* storage_base(const TensorImpl& t) {
  return static_cast<const char*>(t.storage->data()) + t.offset * dtype_size(t.dtype);
}

void require_cpu(const Tensor& t, const char* op) {
  ATROUS_CHECK(t.device().is_cpu(), op, ": needs a CPU tensor, got ", t.description(),
               " (copy it with .to(Device::cpu()) first)");
}

}  // namespace

// ---- factories ----

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) { return Tensor(make_impl(shape, dtype, device)); }
Tensor Tensor::empty_pinned(const Shape& shape, DType dtype) {
  return Tensor(make_impl(shape, dtype, Device::cpu(), /*pinned=*/true));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  device_memset_zero(t.raw_data(), t.numel() * dtype_size(dtype), device);
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, Device::cpu());
  t.fill_(value);
  return device.is_cpu() ? t : t.to(device);
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

// Both fills draw element i from (seed, first + i) of the counter-based stream, so they parallelise and give the
// same values whatever the thread count.
Tensor Tensor::randn(const Shape& shape, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  const int64_t n = t.numel();
  const uint64_t seed = gen.seed(), first = gen.reserve(2 * static_cast<uint64_t>(n));
  dispatch_floating(dtype, "Tensor::randn", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      // Box-Muller; u1 is shifted off zero so the log stays finite.
      const double u1 = philox_uniform(seed, first, 2 * i) + 0.5 / 16777216.0;
      const double u2 = philox_uniform(seed, first, 2 * i + 1);
      p[i] = static_cast<T>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
    }
  });
  return t;
}

Tensor Tensor::uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype) {
  ATROUS_CHECK(low < high, "Tensor::uniform: need low < high, got [", low, ", ", high, ")");
  Tensor t = empty(shape, dtype);
  const int64_t n = t.numel();
  const uint64_t seed = gen.seed(), first = gen.reserve(static_cast<uint64_t>(n));
  dispatch_floating(dtype, "Tensor::uniform", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(low + (high - low) * philox_uniform(seed, first, i));
  });
  return t;
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  ATROUS_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ", values.size(),
               " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>);
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector<int32_t>(const std::vector<int32_t>&, const Shape&);
template Tensor Tensor::from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&);

// ---- accessors ----

const TensorImpl& Tensor::checked_impl() const {
  ATROUS_CHECK(impl_, "Tensor: use of an undefined tensor");
  return *impl_;
}
const Shape& Tensor::shape() const { return checked_impl().shape; }
const Shape& Tensor::strides() const { return checked_impl().strides; }
int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const { return checked_impl().dtype; }
Device Tensor::device() const { return checked_impl().storage->device(); }

int64_t Tensor::size(int64_t d) const {
  const int64_t rank = dim();
  ATROUS_CHECK(d >= -rank && d < rank, "Tensor::size: dimension ", d, " out of range for shape ", shape_str(shape()));
  return shape()[d < 0 ? d + rank : d];
}

bool Tensor::is_contiguous() const {
  const TensorImpl& t = checked_impl();
  int64_t step = 1;
  for (size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] != 1 && t.strides[i] != step) return false;
    step *= t.shape[i];
  }
  return true;
}

std::string Tensor::description() const {
  if (!impl_) return "undefined tensor";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " on " + device().str();
}

void* Tensor::raw_data() const {
  const TensorImpl& t = checked_impl();
  return static_cast<char*>(t.storage->data()) + t.offset * dtype_size(t.dtype);
}

template <typename T>
T* Tensor::data() {
  ATROUS_CHECK(dtype() == dtype_of<T>, "Tensor::data: tensor is ", dtype_name(dtype()), ", accessed as ",
               dtype_name(dtype_of<T>));
  return static_cast<T*>(raw_data());
}
template <typename T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
#define ATROUS_INSTANTIATE_DATA(T) \
  template T* Tensor::data<T>();   \
  template const T* Tensor::data<T>() const;
ATROUS_INSTANTIATE_DATA(float)
ATROUS_INSTANTIATE_DATA(double)
ATROUS_INSTANTIATE_DATA(int32_t)
ATROUS_INSTANTIATE_DATA(uint8_t)

// ---- copies ----

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = clone();
  return out;
}

Tensor Tensor::clone() const {
  const TensorImpl& src = checked_impl();
  Tensor out = empty(src.shape, src.dtype, device());
  if (is_contiguous()) {
    device_copy(out.raw_data(), device(), raw_data(), device(), numel() * dtype_size(src.dtype));
  } else if (device().is_cuda()) {
    ATROUS_CUDA_ONLY(cuda::gather_strided(
        device().index, storage_base(src), device_layout(src, "Tensor::clone"), out.raw_data(), dtype_size(src.dtype)));
  } else {
    gather_contiguous(src, out.raw_data());
  }
  // Differentiable, as in PyTorch: x.permute(...).contiguous() in a forward pass must pass the gradient on.
  return record_op("clone", out, {*this}, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g};
  });
}

bool Tensor::is_pinned() const { return checked_impl().storage->pinned(); }

Tensor Tensor::to(Device target, bool non_blocking) const {
  if (target == device()) return *this;
  if (target.is_cuda()) {
    ATROUS_CHECK(target.index < cuda_device_count(), "Tensor::to: ", target.str(), " is not available (",
                 cuda_device_count(), " CUDA devices visible)");
  }
  Tensor out = empty(shape(), dtype(), target);
  if (non_blocking && target.is_cuda() && is_contiguous() && is_pinned()) {
    // No staging, no waiting: freed pinned blocks are not reused before the stream has run this copy.
    cuda::copy_from_pinned_async(out.raw_data(), target.index, raw_data(), numel() * dtype_size(dtype()));
    return out;
  }
  Tensor src = contiguous();
  device_copy(out.raw_data(), target, src.raw_data(), device(), numel() * dtype_size(dtype()));
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), target, device());
  if (device().is_cuda()) {
    ATROUS_CUDA_ONLY(
        cuda::convert_dtype(device().index, src.raw_data(), dtype(), out.raw_data(), target, numel()));
    return out;
  }
  dispatch_all(dtype(), [&](auto in_tag) {
    using In = decltype(in_tag);
    dispatch_all(target, [&](auto out_tag) {
      using Out = decltype(out_tag);
      const In* s = src.data<In>();
      Out* d = out.data<Out>();
      for (int64_t i = 0; i < src.numel(); ++i) d[i] = static_cast<Out>(s[i]);
    });
  });
  return out;
}

Tensor& Tensor::fill_(double value) {
  require_cpu(*this, "Tensor::fill_");
  const TensorImpl& t = checked_impl();
  dispatch_all(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* base = static_cast<T*>(t.storage->data());
    const T v = static_cast<T>(value);
    for_each_offset(t, [&](int64_t, int64_t offset) { base[offset] = v; });
  });
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  ATROUS_CHECK(src.shape() == shape() && src.dtype() == dtype(), "Tensor::copy_: source ", src.description(),
               " does not match destination ", description());
  if (is_contiguous()) {
    Tensor s = src.contiguous();
    device_copy(raw_data(), device(), s.raw_data(), s.device(), numel() * dtype_size(dtype()));
    return *this;
  }
  if (device().is_cuda()) {
    Tensor s = src.to(device()).contiguous();
    const TensorImpl& t = checked_impl();
    ATROUS_CUDA_ONLY(cuda::scatter_strided(device().index, s.raw_data(), const_cast<char*>(storage_base(t)),
                                                    device_layout(t, "Tensor::copy_"), dtype_size(dtype())));
    return *this;
  }
  Tensor s = src.to(Device::cpu()).contiguous();
  const size_t elem = dtype_size(dtype());
  const TensorImpl& t = checked_impl();
  auto* base = static_cast<char*>(t.storage->data());
  const auto* from = static_cast<const char*>(s.raw_data());
  for_each_offset(t, [&](int64_t i, int64_t offset) { std::memcpy(base + offset * elem, from + i * elem, elem); });
  return *this;
}

std::vector<double> Tensor::to_double_vector() const {
  Tensor t = to(Device::cpu()).contiguous();
  std::vector<double> out(t.numel());
  dispatch_all(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}

double Tensor::item_as_double() const {
  ATROUS_CHECK(numel() == 1, "Tensor::item: tensor ", description(), " has ", numel(), " elements, not 1");
  return to_double_vector()[0];
}

template <typename T>
T Tensor::item() const {
  return static_cast<T>(item_as_double());
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int32_t Tensor::item<int32_t>() const;
template int64_t Tensor::item<int64_t>() const;
template uint8_t Tensor::item<uint8_t>() const;

// ---- printing ----

std::ostream& operator<<(std::ostream& out, const Tensor& t) {
  if (!t.defined()) return out << "Tensor(undefined)";
  out << "Tensor(" << t.description();
  if (t.requires_grad()) out << ", requires_grad";
  out << ")";
  constexpr int64_t kMaxShown = 16;
  std::vector<double> values = t.to_double_vector();
  out << " [";
  const std::ios::fmtflags flags = out.flags();
  for (int64_t i = 0; i < std::min<int64_t>(kMaxShown, t.numel()); ++i) {
    out << (i ? ", " : "") << std::setprecision(6) << values[i];
  }
  out.flags(flags);
  if (t.numel() > kMaxShown) out << ", ... (" << t.numel() << " values)";
  return out << "]";
}

// ---- autograd accessors ----

bool Tensor::requires_grad() const { return checked_impl().requires_grad; }

Tensor& Tensor::set_requires_grad(bool value) {
  ATROUS_CHECK(is_leaf(), "Tensor::set_requires_grad: only leaf tensors can change requires_grad (this one was made by ",
               "an op); use detach() for a new leaf");
  ATROUS_CHECK(!value || is_floating(dtype()), "Tensor::set_requires_grad: only floating tensors can require grad, got ",
               description());
  impl_->requires_grad = value;
  return *this;
}

bool Tensor::is_leaf() const { return checked_impl().grad_fn == nullptr; }

Tensor Tensor::grad() const {
  const TensorImpl& t = checked_impl();
  return t.grad ? Tensor(t.grad) : Tensor();
}

void Tensor::zero_grad() { checked_impl(), impl_->grad.reset(); }

void Tensor::set_grad(const Tensor& gradient) {
  const TensorImpl& t = checked_impl();
  ATROUS_CHECK(t.grad_fn == nullptr && t.requires_grad, "set_grad: only a leaf that requires grad has a gradient, got ",
               description());
  ATROUS_CHECK(gradient.defined() && gradient.shape() == shape() && gradient.dtype() == dtype() &&
                   gradient.device() == device(),
               "set_grad: the gradient must match the tensor ", description(), ", got ",
               gradient.defined() ? gradient.description() : std::string("an undefined tensor"));
  impl_->grad = gradient.detach().impl();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked_impl().grad_fn; }

Tensor Tensor::detach() const {
  const TensorImpl& t = checked_impl();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage;
  impl->offset = t.offset;
  impl->shape = t.shape;
  impl->strides = t.strides;
  impl->dtype = t.dtype;
  return Tensor(impl);
}

}  // namespace atrous
