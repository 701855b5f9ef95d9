#include "models/vgg_backbone.h"

#include <cmath>
#include <memory>
#include <string>

#include "core/ops/pooling.h"
#include "layers/conv_bn_relu.h"
#include "layers/simple_layers.h"

namespace atrous {
namespace {

struct ConvSpec {
  int in, out, dilation;
};

// conv1_1 .. conv5_3; conv5_x sample their input at rate 2 because pool4 no longer subsamples (the hole algorithm).
constexpr std::array<ConvSpec, 13> kConvs = {{{3, 64, 1},
                                              {64, 64, 1},
                                              {64, 128, 1},
                                              {128, 128, 1},
                                              {128, 256, 1},
                                              {256, 256, 1},
                                              {256, 256, 1},
                                              {256, 512, 1},
                                              {512, 512, 1},
                                              {512, 512, 1},
                                              {512, 512, 2},
                                              {512, 512, 2},
                                              {512, 512, 2}}};

Pool2dParams deeplab_pool(int index) {
  // pool1..pool3 subsample by 2; pool4 and pool5 keep the resolution (stride 1) so the output stride stays 8.
  const int stride = index < 3 ? 2 : 1;
  return Pool2dParams().with_kernel(3).with_stride(stride).with_padding(1).with_ceil_mode(true);
}

}  // namespace

constexpr std::array<int, 13> Vgg16Features::kConvIndices;
constexpr std::array<int, 5> Vgg16Features::kPoolIndices;

void normal_init_(Tensor& t, double std, Generator& gen) {
  Tensor dst = t.detach();
  ATROUS_CHECK(dst.is_contiguous(), "normal_init_: needs a contiguous tensor, got ", dst.description());
  const int64_t n = dst.numel(), blocks = (n + 3) / 4;
  // One Philox block (4 uniforms) per 4 values, Box-Muller giving a cos/sin pair per 2 uniforms, addressed by
  // block index: the fill is parallel yet depends only on the generator's state. Blocks start at the first whole
  // block at or after the reserved offset, so 4 extra numbers are reserved.
  const uint64_t seed = gen.seed(), first_block = (gen.reserve(4 * static_cast<uint64_t>(blocks) + 4) + 3) / 4;
  const float scale = static_cast<float>(std), two_pi = static_cast<float>(2.0 * M_PI);
  dispatch_floating(dst.dtype(), "normal_init_", [&](auto tag) {
    using T = decltype(tag);
    T* p = dst.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const Philox4 r = philox4x32(first_block + static_cast<uint64_t>(b), seed);
      float values[4];
      for (int pair = 0; pair < 2; ++pair) {
        // u1 shifted off 0 so the log stays finite.
        const float u1 = uniform_from_bits(r.v[2 * pair]) + 0.5f / 16777216.0f;
        const float u2 = uniform_from_bits(r.v[2 * pair + 1]);
        const float radius = scale * std::sqrt(-2.0f * std::log(u1));
        values[2 * pair] = radius * std::cos(two_pi * u2);
        values[2 * pair + 1] = radius * std::sin(two_pi * u2);
      }
      const int64_t begin = 4 * b, count = n - begin < 4 ? n - begin : 4;
      for (int64_t k = 0; k < count; ++k) p[begin + k] = static_cast<T>(values[k]);
    }
  });
}

void he_init_(Conv2d& conv, Generator& gen) {
  const Tensor& w = conv.weight();
  normal_init_(conv.weight(), std::sqrt(2.0 / double(w.size(1) * w.size(2) * w.size(3))), gen);
  if (conv.has_bias()) conv.bias().detach().zero_();
}

Vgg16Features::Vgg16Features(Generator& gen) : Module("Vgg16Features") {
  size_t conv = 0, pool = 0;
  for (int index = 0; index <= kPoolIndices.back(); ++index) {
    const std::string name = std::to_string(index);
    if (conv < kConvIndices.size() && index == kConvIndices[conv]) {
      const ConvSpec& s = kConvs[conv++];
      auto layer = register_module(
          name,
          std::make_shared<Conv2d>(Conv2dOptions(s.in, s.out, 3).with_dilation(s.dilation).with_same_padding(), gen));
      he_init_(*layer, gen);
    } else if (index == kPoolIndices[pool]) {
      register_module(name, std::make_shared<MaxPool2d>(deeplab_pool(static_cast<int>(pool++))));
    } else {
      register_module(name, std::make_shared<ReLU>());
    }
  }
}

VggPools Vgg16Features::forward_pools(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == 3, "Vgg16Features: input must be [N,H,W,3], got ", x.description());
  VggPools out;
  Tensor h = x;
  size_t pool = 0;
  for (size_t i = 0; i < children().size();) {
    h = forward_children_from(children(), i, h);  // a conv and its ReLU as one op in inference
    const std::string& last = children()[i - 1].first;
    if (pool < kPoolIndices.size() && last == std::to_string(kPoolIndices[pool])) out.pool[pool++] = h;
  }
  return out;
}

Tensor Vgg16Features::forward(const Tensor& x) { return forward_pools(x).pool[4]; }

std::string Vgg16Features::describe() const {
  return "VGG-16 features (DeepLab: pools 3x3 s2,s2,s2,s1,s1 pad 1 ceil; conv5 dilation 2; output stride 8)";
}

int64_t Vgg16Features::output_size(int64_t in) {
  for (int i = 0; i < 3; ++i) in = pool2d_output_size(in, deeplab_pool(i));
  return in;
}

}  // namespace atrous
