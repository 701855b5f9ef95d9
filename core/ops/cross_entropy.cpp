// Softmax cross-entropy with an ignore label and optional class weights (PyTorch's weighted mean):
// argument and label checks, device dispatch, and a backward that recomputes softmax from the saved logits.
#include "core/ops/cross_entropy.h"

#include "core/autograd.h"
#include "core/checks.h"
#include "core/device_checks.h"
#include "kernels/cross_entropy.h"

namespace atrous {
namespace {

constexpr const char* kOp = "softmax_cross_entropy";

void check_arguments(const Tensor& logits, const Tensor& labels, const Tensor& weights) {
  checks::nhwc(kOp, "logits", logits);
  checks::defined(kOp, "labels", labels);
  ATROUS_CHECK(labels.dtype() == DType::i32 || labels.dtype() == DType::u8, kOp, ": 'labels' must be i32 or u8, got ",
               labels.description());
  checks::rank(kOp, "labels", labels, 3, "NHW");
  const Shape& s = logits.shape();
  ATROUS_CHECK(labels.shape() == Shape({s[0], s[1], s[2]}), kOp, ": 'labels' ", labels.description(),
               " must be [N,H,W] of 'logits' ", logits.description());
  ATROUS_CHECK(s[3] >= 1, kOp, ": 'logits' ", logits.description(), " needs at least one class");
  checks::same_device(kOp, "logits", logits, "labels", labels);
  if (weights.defined()) {
    checks::floating(kOp, "class_weights", weights);
    checks::same_dtype(kOp, "logits", logits, "class_weights", weights);
    checks::same_device(kOp, "logits", logits, "class_weights", weights);
    ATROUS_CHECK(weights.dim() == 1 && weights.size(0) == s[3], kOp, ": 'class_weights' ", weights.description(),
                 " must be [C] with C = ", s[3], " classes of 'logits' ", logits.description());
  }
}

template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Calls fn(L{}) with L the C++ type of the label dtype.
template <typename Fn>
void dispatch_labels(DType t, Fn&& fn) {
  if (t == DType::u8) {
    fn(uint8_t{});
  } else {
    fn(int32_t{});
  }
}

std::string invalid_label_message(const Tensor& labels, int64_t pixel, int64_t classes, int64_t ignore_index) {
  const Shape& s = labels.shape();
  const int64_t hw = s[1] * s[2];
  return detail::concat(kOp, ": label ", labels.reshape({-1}).slice(0, pixel, pixel + 1).item<int64_t>(),
                        " at (n=", pixel / hw, ", h=", (pixel % hw) / s[2], ", w=", pixel % s[2], ") of ",
                        labels.description(), " is outside [0, ", classes, ") and is not ignore_index ", ignore_index);
}

// The CUDA path: the loss and its sums stay on the device (no host synchronisation per step); an invalid label is
// reported at the next synchronisation with the host (core/device_checks.h), as a GPU reports a device assertion.
Tensor cuda_softmax_cross_entropy(const Tensor& logits_in, const Tensor& logits, const Tensor& labels,
                                  const Tensor& weights, const Tensor& row_stats,
                                  const kernels::CrossEntropyShape& shape, int64_t ignore_index, Tensor& loss) {
  const bool track = row_stats.defined();
  Tensor sums = Tensor::empty({3}, DType::f64, logits.device());
  dispatch_floating(logits.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    dispatch_labels(labels.dtype(), [&](auto label_tag) {
      using L = decltype(label_tag);
      ATROUS_CUDA_ONLY(kernels::cuda::softmax_cross_entropy_forward<T, L>(
          logits.device().index, logits.data<T>(), labels.data<L>(), data_or_null<T>(weights),
          track ? const_cast<T*>(row_stats.data<T>()) : nullptr, shape, loss.data<T>(), sums.data<double>()));
    });
  });
  const int64_t classes = shape.classes, pixels = shape.pixels;
  defer_device_check(sums.slice(0, 2, 3), [labels = labels.detach(), classes, pixels, ignore_index](double first) {
    const auto pixel = static_cast<int64_t>(first);
    return pixel < pixels ? invalid_label_message(labels, pixel, classes, ignore_index) : std::string();
  });
  return record_op(kOp, loss, {logits_in},
                   [logits = track ? logits.detach() : Tensor(), labels = track ? labels.detach() : Tensor(), weights,
                    row_stats, sums, shape](const Tensor& g, const std::vector<bool>&) {
                     Tensor dlogits = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
                     const Tensor grad = g.to(logits.device()).contiguous();
                     dispatch_floating(logits.dtype(), "softmax_cross_entropy backward", [&](auto tag) {
                       using T = decltype(tag);
                       dispatch_labels(labels.dtype(), [&](auto label_tag) {
                         using L = decltype(label_tag);
                         ATROUS_CUDA_ONLY(kernels::cuda::softmax_cross_entropy_backward<T, L>(
                             logits.device().index, logits.data<T>(), labels.data<L>(), data_or_null<T>(weights),
                             row_stats.data<T>(), grad.data<T>(), sums.data<double>(), dlogits.data<T>(), shape));
                       });
                     });
                     return std::vector<Tensor>{dlogits};
                   });
}

}  // namespace

Tensor softmax_cross_entropy(const Tensor& logits_in, const Tensor& labels_in, const CrossEntropyParams& params) {
  check_arguments(logits_in, labels_in, params.class_weights);
  Tensor logits = logits_in.contiguous();
  Tensor labels = labels_in.contiguous();
  Tensor weights = params.class_weights.defined() ? params.class_weights.contiguous().detach() : Tensor();
  const Shape& s = logits.shape();
  const kernels::CrossEntropyShape shape{s[0] * s[1] * s[2], s[3], params.ignore_index};
  const bool track = any_requires_grad({logits_in});
  // Per pixel (max, 1/sum of exp): 2 values instead of C probabilities, and the backward needs no reduction pass.
  Tensor row_stats = track ? Tensor::empty({shape.pixels, 2}, logits.dtype(), logits.device()) : Tensor();

  Tensor loss = Tensor::empty({}, logits.dtype(), logits.device());
  if (logits.device().is_cuda())
    return cuda_softmax_cross_entropy(logits_in, logits, labels, weights, row_stats, shape, params.ignore_index, loss);
  kernels::CrossEntropySums sums;
  dispatch_floating(logits.dtype(), kOp, [&](auto tag) {
    using T = decltype(tag);
    dispatch_labels(labels.dtype(), [&](auto label_tag) {
      using L = decltype(label_tag);
      sums = kernels::softmax_cross_entropy_forward_cpu(logits.data<T>(), labels.data<L>(), data_or_null<T>(weights),
                                                        track ? row_stats.data<T>() : nullptr, shape);
    });
    if (sums.first_invalid >= 0)
      ATROUS_FAIL(invalid_label_message(labels, sums.first_invalid, s[3], params.ignore_index));
    // Every pixel ignored (or weights summing to 0): loss 0 and zero gradient, where PyTorch gives NaN.
    *loss.data<T>() = sums.weight != 0.0 ? static_cast<T>(sums.loss / sums.weight) : T(0);
  });

  const double denom = sums.weight;
  return record_op(
      kOp, loss, {logits_in},
      [logits = track ? logits.detach() : Tensor(), labels = track ? labels.detach() : Tensor(), weights, row_stats,
       shape, denom](const Tensor& g, const std::vector<bool>&) {
        Tensor dlogits = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
        const double scale = denom != 0.0 ? g.item_as_double() / denom : 0.0;
        dispatch_floating(logits.dtype(), "softmax_cross_entropy backward", [&](auto tag) {
          using T = decltype(tag);
          dispatch_labels(labels.dtype(), [&](auto label_tag) {
            using L = decltype(label_tag);
            kernels::softmax_cross_entropy_backward_cpu(logits.data<T>(), labels.data<L>(), data_or_null<T>(weights),
                                                        row_stats.data<T>(), static_cast<T>(scale), dlogits.data<T>(),
                                                        shape);
          });
        });
        return std::vector<Tensor>{dlogits};
      });
}

}  // namespace atrous
