#include "models/registry.h"

#include "models/deeplab_v3.h"
#include "models/deeplab_v3_plus.h"
#include "models/mobilenet_v3_segmentation.h"
#include "models/tiny_deeplab.h"
#include "models/vgg_deeplab.h"

namespace atrous {

std::shared_ptr<SegmentationModel> ModelRegistry::create(const std::string& name, const ModelOptions& options) const {
  const ModelEntry& entry = get(name);
  ATROUS_CHECK(options.num_classes >= 1, "create_model(", name, "): num_classes must be >= 1, got ",
               options.num_classes);
  return entry.create(options);
}

const ModelRegistry& model_registry() {
  static const ModelRegistry registry = [] {
    ModelRegistry r;
    // Each model family adds its architectures here.
    register_vgg_models(r);
    register_resnet_models(r);
    register_deeplab_v3_plus_models(r);
    register_mobilenet_v3_models(r);
    register_tiny_models(r);
    return r;
  }();
  return registry;
}

std::shared_ptr<SegmentationModel> create_model(const std::string& name, const ModelOptions& options) {
  return model_registry().create(name, options);
}

}  // namespace atrous
