// Fused softmax cross-entropy kernels over [pixels, classes] logits with integer labels and an ignore label.
#pragma once
#include <cstdint>

namespace atrous::kernels {

struct CrossEntropyShape {
  int64_t pixels = 0, classes = 0;
  int64_t ignore_index = 255;
};

struct CrossEntropySums {
  double loss = 0.0;     // sum over valid pixels of w[y] * -log softmax(x)[y]
  double weight = 0.0;   // sum over valid pixels of w[y] (the count without class weights)
  int64_t first_invalid = -1;  // lowest pixel whose label is neither in [0, classes) nor ignore_index; -1 if none
};

// L is int32_t or uint8_t. class_weights may be null (all 1). When row_stats is not null it receives, for each
// valid pixel i, row_stats[2i] = max_k x[k] and row_stats[2i+1] = 1 / sum_k exp(x[k] - max), so that the backward
// gets softmax with one exp per element and no max or sum pass. Pixels with invalid labels are skipped (the caller
// reports first_invalid).
template <typename T, typename L>
CrossEntropySums softmax_cross_entropy_forward_cpu(const T* logits, const L* labels, const T* class_weights,
                                                   T* row_stats, const CrossEntropyShape& s);

// dlogits = (softmax(x) - onehot(y)) * w[y] * scale for valid pixels, 0 for ignored (or invalid) ones; scale is
// d(loss)/d(mean) / sum of weights. row_stats is the forward's output.
template <typename T, typename L>
void softmax_cross_entropy_backward_cpu(const T* logits, const L* labels, const T* class_weights,
                                        const T* row_stats, T scale, T* dlogits, const CrossEntropyShape& s);

namespace cuda {

// The CUDA launchers (kernels/cuda/cross_entropy.cu): the *_cpu kernels' twins on device pointers on `device`,
// queued on that device's stream (the CPU kernel is their oracle in the tests). T is float or double.

// Queues the loss without waiting for the device: loss[0] = (sum over valid pixels of w[y] * -log softmax(x)[y]) /
// (sum of w[y]), 0 when no pixel counts; sums[0..2] (device memory) = {that sum, the weight sum, the first pixel
// whose label is invalid, or s.pixels when none}, for the backward and for the caller's deferred label check.
// L is int32_t or uint8_t.
template <typename T, typename L>
void softmax_cross_entropy_forward(int device, const T* logits, const L* labels, const T* class_weights, T* row_stats,
                                   const CrossEntropyShape& s, T* loss, double* sums);
// dlogits for an upstream gradient grad_loss[0] (device memory), scaled by 1 / sums[1] on the device.
template <typename T, typename L>
void softmax_cross_entropy_backward(int device, const T* logits, const L* labels, const T* class_weights,
                                    const T* row_stats, const T* grad_loss, const double* sums, T* dlogits,
                                    const CrossEntropyShape& s);

}  // namespace cuda

}  // namespace atrous::kernels
