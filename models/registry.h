// The model zoo's registry: every architecture constructible by name, for any number of classes. Explicit (each
// family's register function is called from registry.cpp), rejects duplicate names, and unknown names list what
// exists.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

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

class ModelRegistry {
 public:
  void add(const std::string& name, const std::string& summary, ModelFactory factory);
  std::shared_ptr<SegmentationModel> create(const std::string& name, const ModelOptions& options = {}) const;
  const std::vector<ModelEntry>& entries() const { return entries_; }
  bool contains(const std::string& name) const;

 private:
  std::vector<ModelEntry> entries_;
};

// The registry holding every model in the zoo.
const ModelRegistry& model_registry();
std::shared_ptr<SegmentationModel> create_model(const std::string& name, const ModelOptions& options = {});

}  // namespace atrous
