// The model zoo's registry: every architecture constructible by name, for any number of classes. Explicit (each
// family's register function is called from registry.cpp); a NamedRegistry, so duplicate names are rejected and
// unknown names list what exists.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/named_registry.h"
#include "models/segmentation_model.h"

namespace atrous {

struct ModelOptions {
  int num_classes = 21;
  int output_stride = 0;  // 0: the architecture's default
  uint64_t seed = 1;      // initial weights
};

using ModelFactory = std::function<std::shared_ptr<SegmentationModel>(const ModelOptions&)>;

struct ModelEntry {
  std::string name;
  std::string summary;  // one line for `atrous models`
  ModelFactory create;
};

class ModelRegistry : public NamedRegistry<ModelEntry> {
 public:
  ModelRegistry() : NamedRegistry("model") {}
  void add(const std::string& name, const std::string& summary, ModelFactory factory) {
    NamedRegistry::add({name, summary, std::move(factory)});
  }
  std::shared_ptr<SegmentationModel> create(const std::string& name, const ModelOptions& options = {}) const;
};

// The registry holding every model in the zoo.
const ModelRegistry& model_registry();
std::shared_ptr<SegmentationModel> create_model(const std::string& name, const ModelOptions& options = {});

}  // namespace atrous
