// Differentiable elementwise arithmetic and reductions. Binary ops need equal shapes (no broadcasting: DeepLab never
// needs it, and a silent broadcast hides shape bugs).
#pragma once
#include "core/tensor.h"

namespace atrous {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& a, double s);          // s * a
Tensor sum(const Tensor& a);                      // all elements -> scalar (shape [])
Tensor mean(const Tensor& a);                     // all elements -> scalar
Tensor relu(const Tensor& x);
Tensor add_relu(const Tensor& a, const Tensor& b);  // relu(a + b), one pass on the CPU (a residual block's end)
Tensor maximum(const Tensor& a, const Tensor& b);  // elementwise max (multi-scale fusion); ties pick `a`

// In place, outside autograd (gradient accumulation, optimisers): dst += src, dst += alpha * src.
void add_(Tensor& dst, const Tensor& src);
void axpy_(Tensor& dst, double alpha, const Tensor& src);

}  // namespace atrous
