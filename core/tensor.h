// Tensor: a strided view of shared storage, with an optional autograd history. Activations are NHWC.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace atrous {

class Node;
class Generator;

// State shared by a tensor handle and its copies. Autograd fields live here so that a graph node can point at a
// leaf's accumulator without keeping the leaf's data alive.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;
  DType dtype = DType::f32;

  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;      // leaves only: accumulated gradient
  std::shared_ptr<Node> grad_fn;         // non-leaves: the node that produced this tensor
  std::shared_ptr<Node> grad_accumulator;  // leaves that require grad: created on first use
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. Contents of empty() are uninitialised.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // A CPU tensor in pinned host memory when a CUDA device is visible (else plain host memory): what a loader fills
  // for to(cuda, /*non_blocking=*/true) to copy without staging.
  static Tensor empty_pinned(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
  // Standard normal / uniform [low, high) samples from `gen` (deterministic for a given seed).
  static Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32);
  static Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype = DType::f32);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  static Tensor scalar(double value, DType dtype = DType::f32);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  bool is_pinned() const;  // CPU storage in pinned host memory
  std::string description() const;  // "f32[2,65,65,256] on cpu", for error messages

  // Pointer to the first element. Checks the dtype against T (an error names both).
  template <typename T> T* data();
  template <typename T> const T* data() const;
  void* raw_data() const;

  // Copies (contiguous: unless already so). Both are differentiable, as in PyTorch (the gradient passes through
  // unchanged); detach() first for a plain copy of a tensor that requires grad.
  Tensor contiguous() const;
  Tensor clone() const;
  // non_blocking: a contiguous pinned tensor is copied to a CUDA device asynchronously, on the device's stream (the
  // caller must leave it unchanged until that stream has run; its storage is kept until then). Otherwise to()
  // returns once the source may be reused.
  Tensor to(Device device, bool non_blocking = false) const;
  Tensor to(DType dtype) const;

  // Views (share storage). reshape copies when the tensor is not contiguous.
  // reshape, permute and slice are recorded by autograd.
  Tensor reshape(const Shape& shape) const;
  Tensor permute(const std::vector<int64_t>& order) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end) const;
  Tensor detach() const;

  // In-place, outside autograd (used by optimisers and initialisers).
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);
  Tensor& zero_() { return fill_(0.0); }

  template <typename T> T item() const;  // the single element of a one-element tensor
  double item_as_double() const;
  std::vector<double> to_double_vector() const;  // every element in logical order (for tests and printing)

  // Autograd.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool value);  // leaves only
  bool is_leaf() const;
  Tensor grad() const;  // undefined until backward reached this leaf
  void zero_grad();
  // Replaces a leaf's gradient (data-parallel training writes the all-reduced one); same shape, dtype and device.
  void set_grad(const Tensor& gradient);
  const std::shared_ptr<Node>& grad_fn() const;
  // Backpropagates from this tensor. A scalar needs no gradient; others need one of the same shape.
  // Without retain_graph the saved tensors are freed, and a second backward through them is an error.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  bool same_as(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  const TensorImpl& checked_impl() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& out, const Tensor& t);

// Convenience arithmetic (differentiable; defined in core/ops/elementwise.cpp).
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, double s);
Tensor operator*(double s, const Tensor& a);

}  // namespace atrous
