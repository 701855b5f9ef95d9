// Define-by-run autograd: every differentiable op records a Node whose backward closure captures the tensors it
// saved (flashlight style). backward() walks the nodes in reverse topological order, sums gradients arriving at
// the same node, and accumulates into leaves. After a backward without retain_graph the closures are dropped, which
// frees the saved tensors.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace atrous {

class Node {
 public:
  virtual ~Node() = default;
  // Gradients with respect to each input, given the gradient of the output; undefined entries mean "none".
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  virtual void release() {}
  const std::string& name() const { return name_; }
  // One entry per input: the node gradients flow to next (nullptr for inputs that need no gradient).
  const std::vector<std::shared_ptr<Node>>& next() const { return next_; }
  // The leaf this node accumulates into (a tensor that requires grad and no op made), if it is a leaf's sink.
  virtual std::shared_ptr<TensorImpl> leaf() const { return nullptr; }

 protected:
  std::string name_;
  std::vector<std::shared_ptr<Node>> next_;
};

// What an op's backward receives: the output gradient and which inputs need a gradient (skip the others).
using BackwardClosure =
    std::function<std::vector<Tensor>(const Tensor& grad_output, const std::vector<bool>& needs_grad)>;
struct BackwardFn {
  BackwardClosure fn;
  template <typename F>
  BackwardFn(F f) : fn(std::move(f)) {}  // NOLINT: implicit from any lambda
};

// Attaches the backward closure to `output` when grad mode is on and some input requires grad; returns `output`.
// The closure must return one tensor per input, of that input's shape (or undefined when not needed).
Tensor record_op(const char* name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward);

// True when any input requires grad and grad mode is on: ops use it to skip saving tensors for backward.
bool any_requires_grad(const std::vector<Tensor>& inputs);

bool grad_mode_enabled();

// Watches the backward passes of this thread while it lives (scoped, nests): `on_ready` is called once per backward
// for every leaf the pass reached, as soon as that leaf's gradient for the pass is complete (leaf.grad holds its
// sum; undefined when no path delivered one), while the rest of the pass goes on. Data-parallel training starts
// all-reducing gradients with it before backward ends.
class ScopedLeafGradientHook {
 public:
  using Callback = std::function<void(const TensorImpl& leaf)>;
  explicit ScopedLeafGradientHook(Callback on_ready);
  ~ScopedLeafGradientHook();
  ScopedLeafGradientHook(const ScopedLeafGradientHook&) = delete;
  ScopedLeafGradientHook& operator=(const ScopedLeafGradientHook&) = delete;

 private:
  Callback previous_;
};

// Disables recording for its lifetime (evaluation, optimiser updates). Nests.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace atrous
