// Internal to the CPU conv kernels: the forward of 3x3 stride-1 float convolutions by Winograd's minimal filtering
// F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). Each 2x2 block of outputs
// takes 16 multiplies per input and output channel instead of 36: 16 GEMMs of [tiles, Cin] x [Cin, Cout], one per
// element of the 4x4 transformed tile, between cheap input and output transforms. Dilated kernels work the same on
// the dilated grid: a tile's outputs are d apart and read input rows and columns d apart.
//
// The transforms' coefficients are 0, +-1 and +-1/2, so the results differ from im2col's by float rounding of the
// extra additions (~1e-6 relative). Taps that fall in the zero padding are multiplied like the others (im2col skips
// them), which Winograd's 2.25x fewer multiplies more than pay for.
#pragma once
#include <cstdint>
#include <type_traits>

#include "kernels/conv2d.h"

namespace atrous::kernels::conv2d_detail {

// Whether the Winograd forward can compute this convolution: 3x3, stride 1, padding >= 0, and at least
// kWinogradMinChannels input and output channels (below that the transforms cost more than the multiplies saved,
// e.g. an RGB input layer).
constexpr int64_t kWinogradMinChannels = 16;
bool winograd_applies(const Conv2dShape& s);
// Whether it also does less work than im2col, counted per pair of input and output channels with the transforms
// and im2col's copies: im2col multiplies only the taps inside the input, which for a dilation large next to the
// image (DeepLab-v2's ASPP rates 12-24 at 41x41) is under half of them, while Winograd's tiles also hang over the
// edges at such rates; and every block of Winograd's tiles reads all transformed weights, from memory once they
// outgrow the caches (LargeFOV's fc6 at batch 1).
bool winograd_pays(const Conv2dShape& s);
// Whether a convolution in T of this shape takes the Winograd forward now: float, and conv_algorithm() automatic
// where it applies and pays, or winograd where it applies.
template <typename T>
bool uses_winograd(const Conv2dShape& s) {
  if (!std::is_same_v<T, float> || conv_algorithm() == ConvAlgorithm::im2col || !winograd_applies(s)) return false;
  return conv_algorithm() == ConvAlgorithm::winograd || winograd_pays(s);
}

// Elements of workspace the Winograd forward needs: the transformed weights and each thread's transformed tiles.
int64_t winograd_workspace(const Conv2dShape& s);

// y = conv(x, w) with the epilogue, as conv2d_forward_cpu (which calls it where winograd_applies).
void winograd_forward(const Conv2dShape& s, const float* x, const float* w, const ConvEpilogue<float>& epilogue,
                      float* y, float* workspace, int64_t workspace_elems);

}  // namespace atrous::kernels::conv2d_detail
