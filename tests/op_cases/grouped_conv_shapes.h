// The grouped and depthwise conv2d geometries, shared by the op cases (tests/op_cases/grouped_conv2d.cpp) and the
// naive-loop test (tests/test_grouped_conv2d.cpp): depthwise (groups == cin) with channel multipliers 1 and 2,
// every stride/padding/dilation combination DeepLab and the MobileNets use, odd sizes and cropping; then general
// groups (the per-group path).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/ops/conv2d.h"

namespace atrous::grouped_conv_shapes {

struct GroupedConv {
  int64_t n, h, w, cin, cout, k;
  int stride, padding, dilation, groups;
  bool bias = true;

  Conv2dParams params() const {
    return Conv2dParams().with_stride(stride).with_padding(padding).with_dilation(dilation).with_groups(groups);
  }
  int64_t oh() const { return conv2d_output_size(h, k, params()); }
  int64_t ow() const { return conv2d_output_size(w, k, params()); }
  Shape x_shape() const { return {n, h, w, cin}; }
  Shape w_shape() const { return {cout, k, k, cin / groups}; }
  std::string str() const {
    return detail::concat(n, "x", h, "x", w, "x", cin, " to ", cout, " ", k, "x", k, " stride ", stride,
                          " pad ", padding, " dilation ", dilation, " groups ", groups, bias ? "" : " no bias");
  }
};

inline const std::vector<GroupedConv>& all() {
  static const std::vector<GroupedConv> shapes = {
      {2, 7, 9, 5, 5, 3, 1, 1, 1, 5},         {1, 8, 8, 4, 4, 3, 2, 1, 1, 4},   {1, 11, 9, 3, 3, 3, 1, 4, 4, 3},
      {2, 9, 10, 3, 6, 3, 2, 2, 2, 3},        {1, 9, 7, 2, 4, 5, 1, 2, 1, 2, false},
      {1, 13, 12, 4, 4, 5, 2, 4, 2, 4},       {1, 6, 6, 3, 3, 1, 1, 0, 1, 3},   {1, 5, 5, 2, 2, 3, 1, 0, 1, 2, false},
      {2, 6, 7, 4, 6, 3, 1, 1, 1, 2},         {1, 7, 7, 6, 9, 3, 2, 2, 2, 3, false},
      {1, 5, 6, 8, 4, 1, 1, 0, 1, 4},
  };
  return shapes;
}

}  // namespace atrous::grouped_conv_shapes
