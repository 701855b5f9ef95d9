// The backward engine: dependency counting over the graph reachable from the root, then a ready queue.
#include "core/autograd.h"

#include <unordered_map>

#include "core/checks.h"
#include "kernels/elementwise.h"

namespace atrous {
namespace {

thread_local bool g_grad_enabled = true;
thread_local ScopedLeafGradientHook::Callback g_leaf_hook;

// True when `t` is the only handle on a contiguous tensor that spans its whole storage: it can then be taken over
// or updated in place without anyone observing it.
bool sole_owner(const Tensor& t) {
  const auto& impl = t.impl();
  return impl && impl.use_count() == 1 && impl->storage.use_count() == 1 && impl->offset == 0 && t.is_contiguous() &&
         impl->storage->bytes() == static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
}

// acc += g. Gradients are never recorded (no higher-order derivatives), so the engine adds them with the kernels
// directly: autograd sits below the differentiable ops and uses none of them.
void accumulate(Tensor& acc, const Tensor& g_in) {
  ATROUS_CHECK(acc.shape() == g_in.shape() && acc.dtype() == g_in.dtype() && acc.device() == g_in.device() &&
                   acc.is_contiguous(),
               "backward: cannot add the gradient ", g_in.description(), " into ", acc.description());
  const Tensor g = g_in.contiguous();
  dispatch_floating(acc.dtype(), "backward", [&](auto tag) {
    using T = decltype(tag);
    T* a = acc.data<T>();
    if (acc.device().is_cuda()) {
      ATROUS_CUDA_ONLY(kernels::cuda::add(acc.device().index, a, g.data<T>(), a, acc.numel()));
    } else {
      kernels::add_cpu(a, g.data<T>(), a, acc.numel());
    }
  });
}

// a + b in a new buffer.
Tensor sum_of(const Tensor& a, const Tensor& b) {
  Tensor out = a.is_contiguous() ? a.clone() : a.contiguous();
  accumulate(out, b);
  return out;
}

// The node an op records: runs the closure once and, unless the graph is retained, drops it with its saved tensors.
class FunctionNode : public Node {
 public:
  FunctionNode(const char* name, std::vector<std::shared_ptr<Node>> next, std::vector<Shape> input_shapes,
               BackwardFn backward)
      : input_shapes_(std::move(input_shapes)), backward_(std::move(backward.fn)) {
    name_ = name;
    next_ = std::move(next);
  }

  std::vector<Tensor> apply(const Tensor& grad_output) override {
    ATROUS_CHECK(backward_, "backward: trying to backward through the graph a second time (", name_,
                 "'s saved tensors were freed by the first backward); pass retain_graph=true to the first call");
    std::vector<bool> needs(next_.size());
    for (size_t i = 0; i < next_.size(); ++i) needs[i] = next_[i] != nullptr;
    std::vector<Tensor> grads = backward_(grad_output, needs);
    ATROUS_CHECK(grads.size() == next_.size(), "backward of ", name_, ": returned ", grads.size(),
                 " gradients for ", next_.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!needs[i] || !grads[i].defined()) continue;
      ATROUS_CHECK(grads[i].shape() == input_shapes_[i], "backward of ", name_, ": gradient of input ", i, " has shape ",
                   shape_str(grads[i].shape()), ", input has ", shape_str(input_shapes_[i]));
    }
    return grads;
  }

  void release() override { backward_ = nullptr; }

 private:
  std::vector<Shape> input_shapes_;
  BackwardClosure backward_;
};

// Sink node of a leaf: adds the arriving gradient into leaf.grad. Holds the leaf weakly so the graph does not keep
// parameters alive.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : leaf_(leaf) { name_ = "AccumulateGrad"; }

  std::vector<Tensor> apply(const Tensor& grad) override {
    std::shared_ptr<TensorImpl> leaf = leaf_.lock();
    if (!leaf) return {};
    if (!leaf->grad) {
      // Own a private copy when the incoming gradient may alias another node's buffer; a gradient nobody else
      // holds is taken over instead (saves a parameter-sized copy per leaf and step).
      leaf->grad = (sole_owner(grad) ? grad.detach() : grad.contiguous().clone()).impl();
    } else {
      Tensor acc(leaf->grad);
      accumulate(acc, grad);
    }
    return {};
  }

  std::shared_ptr<TensorImpl> leaf() const override { return leaf_.lock(); }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  const auto& impl = t.impl();
  if (impl->grad_fn) return impl->grad_fn;
  if (!impl->grad_accumulator) impl->grad_accumulator = std::make_shared<AccumulateGrad>(impl);
  return impl->grad_accumulator;
}

}  // namespace

bool grad_mode_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

ScopedLeafGradientHook::ScopedLeafGradientHook(Callback on_ready) : previous_(std::move(g_leaf_hook)) {
  g_leaf_hook = std::move(on_ready);
}
ScopedLeafGradientHook::~ScopedLeafGradientHook() { g_leaf_hook = std::move(previous_); }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record_op(const char* name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward) {
  if (!any_requires_grad(inputs)) return output;
  std::vector<std::shared_ptr<Node>> next;
  std::vector<Shape> shapes;
  next.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    next.push_back(gradient_edge(t));
    shapes.push_back(t.defined() ? t.shape() : Shape{});
  }
  // The output becomes a non-leaf: give it a fresh impl so that other handles to the same data stay leaves.
  auto impl = std::make_shared<TensorImpl>(*output.impl());
  impl->requires_grad = true;
  impl->grad.reset();
  impl->grad_accumulator.reset();
  impl->grad_fn = std::make_shared<FunctionNode>(name, std::move(next), std::move(shapes), std::move(backward));
  return Tensor(impl);
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  ATROUS_CHECK(requires_grad(), "backward: tensor ", description(),
               " does not require grad (no input of the ops that made it requires grad)");
  Tensor seed = gradient;
  if (!seed.defined()) {
    ATROUS_CHECK(numel() == 1, "backward: implicit gradient only for one-element tensors, this one is ",
                 description(), "; pass a gradient of the same shape");
    seed = Tensor::ones(shape(), dtype(), device());
  }
  ATROUS_CHECK(seed.shape() == shape() && seed.dtype() == dtype(), "backward: gradient ", seed.description(),
               " does not match tensor ", description());

  std::shared_ptr<Node> root = gradient_edge(*this);
  NoGradGuard no_grad;  // gradients themselves are not recorded (no higher-order derivatives)

  // Count, for every reachable node, how many edges point at it.
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack{root.get()};
  pending[root.get()] = 0;
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const auto& next : node->next()) {
      if (!next) continue;
      auto [it, inserted] = pending.emplace(next.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(next.get());
    }
  }

  // A node runs once every edge into it has delivered (or declined to deliver) its gradient. A node that received
  // no gradient at all still runs "empty" so that the nodes below it are released from waiting on it.
  std::unordered_map<Node*, Tensor> grads;
  grads[root.get()] = seed;
  std::vector<Node*> ready{root.get()};
  while (!ready.empty()) {
    Node* node = ready.back();
    ready.pop_back();
    std::vector<Tensor> input_grads;
    auto own = grads.find(node);
    if (own != grads.end()) {
      Tensor grad = std::move(own->second);
      grads.erase(own);
      input_grads = node->apply(grad);
    }
    for (size_t i = 0; i < node->next().size(); ++i) {
      Node* next = node->next()[i].get();
      if (!next) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        auto it = grads.find(next);
        if (it == grads.end()) {
          grads.emplace(next, input_grads[i]);
        } else if (sole_owner(it->second) && it->second.shape() == input_grads[i].shape()) {
          accumulate(it->second, input_grads[i]);  // a buffer only this sum holds: no new allocation
        } else {
          it->second = sum_of(it->second, input_grads[i]);
        }
      }
      if (--pending[next] == 0) ready.push_back(next);
    }
    if (!retain_graph) node->release();
    // A leaf's sink runs once per pass, after every path to it delivered: its gradient is now complete.
    if (g_leaf_hook)
      if (const std::shared_ptr<TensorImpl> leaf = node->leaf()) g_leaf_hook(*leaf);
  }
}

}  // namespace atrous
