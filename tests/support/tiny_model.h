// The smallest trainable DeepLab the trainer tests use: TinyDeepLab, 4 channels wide, 4 classes, from a seed.
#pragma once
#include <cstdint>
#include <memory>

#include "core/random.h"
#include "models/tiny_deeplab.h"

namespace atrous::testing {

inline std::shared_ptr<TinyDeepLab> tiny(uint64_t seed) {
  Generator gen(seed);
  TinyDeepLabConfig config;
  config.width = 4;
  config.num_classes = 4;
  return std::make_shared<TinyDeepLab>(config, gen);
}

}  // namespace atrous::testing
