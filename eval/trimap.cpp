#include "eval/trimap.h"

#include <algorithm>
#include <climits>
#include <vector>

#include "core/error.h"

namespace atrous {

namespace {

// Sliding minimum over windows [i - r, i + r] of n values spaced `stride` apart, in O(n) per line whatever r is
// (van Herk / Gil-Werman), so Cityscapes-sized images with 40-pixel bands stay cheap. The line is padded with r
// neutral values (INT_MAX) at both ends so that every window is exactly k = 2r + 1 wide; blocks of k values get a
// running minimum from the left (g) and from the right (h), and a k-wide window starting at s spans at most two
// blocks, so its minimum is min(h[s], g[s + k - 1]).
void sliding_min(const int* in, int* out, int64_t n, int64_t stride, int64_t r, std::vector<int>& padded,
                 std::vector<int>& g, std::vector<int>& h) {
  const int64_t k = 2 * r + 1, m = n + 2 * r;
  padded.assign(m, INT_MAX);
  for (int64_t i = 0; i < n; ++i) padded[r + i] = in[i * stride];
  g.resize(m);
  h.resize(m);
  for (int64_t i = 0; i < m; ++i) g[i] = (i % k == 0) ? padded[i] : std::min(g[i - 1], padded[i]);
  for (int64_t i = m - 1; i >= 0; --i)
    h[i] = (i == m - 1 || (i + 1) % k == 0) ? padded[i] : std::min(h[i + 1], padded[i]);
  for (int64_t i = 0; i < n; ++i) out[i * stride] = std::min(h[i], g[i + k - 1]);
}

// Minimum over the (2r+1)^2 window clipped to the image, in place on an [h,w] array: rows, then columns.
void window_min(std::vector<int>& values, int64_t h, int64_t w, int64_t r) {
  std::vector<int> tmp(values.size()), padded, g, hh;
  for (int64_t y = 0; y < h; ++y) sliding_min(values.data() + y * w, tmp.data() + y * w, w, 1, r, padded, g, hh);
  for (int64_t x = 0; x < w; ++x) sliding_min(tmp.data() + x, values.data() + x, h, w, r, padded, g, hh);
}

}  // namespace

Tensor trimap_mask(const Tensor& labels_in, int band, int ignore_index, bool ignore_is_boundary) {
  ATROUS_CHECK(labels_in.defined() && labels_in.dim() == 2 &&
                   (labels_in.dtype() == DType::u8 || labels_in.dtype() == DType::i32),
               "trimap_mask: expected an integer label map [H,W] (u8 or i32), got ", labels_in.description());
  ATROUS_CHECK(band >= 0, "trimap_mask: band must be >= 0 pixels, got ", band);
  const int64_t h = labels_in.size(0), w = labels_in.size(1), n = h * w;
  std::vector<int> label(n);
  const Tensor labels = labels_in.contiguous();
  for (int64_t i = 0; i < n; ++i)
    label[i] = labels.dtype() == DType::u8 ? labels.data<uint8_t>()[i] : labels.data<int32_t>()[i];

  // A pixel has a differently-labelled neighbour within the window exactly when the window's minimum or maximum
  // label differs from its own. Ignore pixels take part as an ordinary value when they count as a boundary, or as
  // values that never win the min/max when they do not.
  std::vector<int> lo(n), hi(n);
  for (int64_t i = 0; i < n; ++i) {
    const bool invisible = !ignore_is_boundary && label[i] == ignore_index;
    lo[i] = invisible ? INT_MAX : label[i];
    hi[i] = invisible ? INT_MAX : -label[i];  // max as a min of negatives
  }
  Tensor mask = Tensor::zeros({h, w}, DType::u8);
  if (band == 0 || n == 0) return mask;
  window_min(lo, h, w, band);
  window_min(hi, h, w, band);
  uint8_t* out = mask.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (label[i] == ignore_index) continue;
    out[i] = (lo[i] != label[i] || -hi[i] != label[i]) ? 1 : 0;  // the pixel itself bounds both
  }
  return mask;
}

}  // namespace atrous
