#include "layers/conv2d.h"

#include <cmath>

namespace atrous {
namespace {

Tensor uniform_init(const Shape& shape, double fan_in, Generator& gen) {
  const double bound = 1.0 / std::sqrt(fan_in);
  return Tensor::uniform(shape, -bound, bound, gen);
}

const Conv2dOptions& checked(const Conv2dOptions& o) {
  ATROUS_CHECK(o.in_channels >= 1 && o.out_channels >= 1 && o.kernel >= 1 && o.stride >= 1 && o.dilation >= 1 &&
                   o.padding >= 0 && o.groups >= 1 && o.in_channels % o.groups == 0 &&
                   o.out_channels % o.groups == 0,
               "Conv2d: invalid options (in ", o.in_channels, ", out ", o.out_channels, ", kernel ", o.kernel,
               ", stride ", o.stride, ", padding ", o.padding, ", dilation ", o.dilation, ", groups ", o.groups,
               "): sizes must be positive and groups must divide both channel counts");
  return o;
}

// Inputs seen by one output: the fan-in of PyTorch's default initialisation.
double fan_in(const Conv2dOptions& o) { return double(o.kernel) * o.kernel * (o.in_channels / o.groups); }

Shape weight_shape(const Conv2dOptions& o) {
  return {o.out_channels, o.kernel, o.kernel, o.in_channels / o.groups};
}

}  // namespace

Conv2d::Conv2d(const Conv2dOptions& options, Generator& gen)
    : Module("Conv2d"),
      options_(checked(options)),
      weight_(register_parameter("weight", uniform_init(weight_shape(options_), fan_in(options_), gen),
                                 options.weight_options)) {
  if (options.bias) {
    bias_ = &register_parameter("bias", uniform_init({options.out_channels}, fan_in(options_), gen),
                                options.bias_options);
  }
}

Conv2dParams Conv2d::params() const {
  return Conv2dParams()
      .with_stride(options_.stride)
      .with_padding(options_.padding)
      .with_dilation(options_.dilation)
      .with_groups(options_.groups);
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight_, bias_ ? *bias_ : Tensor(), params()); }

void Conv2d::set_dilation(int dilation, int padding) {
  ATROUS_CHECK(dilation >= 1 && padding >= 0, "Conv2d::set_dilation: need dilation >= 1 and padding >= 0, got ",
               dilation, " and ", padding);
  options_.dilation = dilation;
  options_.padding = padding;
}

void Conv2d::set_stride(int stride) {
  ATROUS_CHECK(stride >= 1, "Conv2d::set_stride: need stride >= 1, got ", stride);
  options_.stride = stride;
}

std::string Conv2d::describe() const {
  const Conv2dOptions& o = options_;
  std::string s = "Conv2d(" + std::to_string(o.in_channels) + " -> " + std::to_string(o.out_channels) + ", " +
                  std::to_string(o.kernel) + "x" + std::to_string(o.kernel);
  if (o.stride != 1) s += ", stride " + std::to_string(o.stride);
  if (o.padding != 0) s += ", pad " + std::to_string(o.padding);
  if (o.dilation != 1) s += ", dilation " + std::to_string(o.dilation);
  if (o.groups != 1) s += o.groups == o.in_channels ? ", depthwise" : ", groups " + std::to_string(o.groups);
  if (!o.bias) s += ", no bias";
  return s + ")";
}

}  // namespace atrous
