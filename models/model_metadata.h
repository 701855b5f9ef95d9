// Self-describing weights: every weights file and checkpoint we write records which registered model it holds, for
// how many classes, at which output stride, and the input preprocessing, in the safetensors metadata. Tools that
// take weights can then build the model from the file when no --model is given.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "models/segmentation_model.h"

namespace atrous {

// What a file says about the model it holds.
struct SavedModelInfo {
  std::string name;  // registry name
  int num_classes = 0;
  int output_stride = 0;
  bool align_corners = true;
  Preprocessing preprocessing;
};

// The metadata entries describing `model` ("model.name", "model.classes", "model.output_stride",
// "model.align_corners", "model.preprocessing"); doubles written so that they read back exactly.
std::map<std::string, std::string> model_metadata(const SegmentationModel& model);
// The same for any module: empty unless it is a SegmentationModel.
std::map<std::string, std::string> model_metadata_of(const Module& module);

// What the file says, or nothing when it was written without a description (older files, PyTorch exports). A
// description that is there but malformed is an error naming the file and the entry.
std::optional<SavedModelInfo> saved_model_info(const SafetensorsFile& file);

// How the weights were validated, which `evaluate` and `segment` use unless told otherwise: the input scales
// whose logits are averaged and whether left-right flipped images are averaged in. A recipe that trains on
// downscaled crops is validated at the scale it trained at; recording it keeps the file's figure reproducible.
struct RecordedInference {
  std::vector<double> scales;
  bool flip = false;
};

// "inference.scales" ("0.75" or "0.5 1"; exact decimals) and "inference.flip" ("true" / "false").
std::map<std::string, std::string> inference_metadata(const RecordedInference& inference);

// What the file records, or nothing when it records no inference settings. Malformed entries (no scale, a scale
// that is not a positive number, a flip that is not true/false) are errors naming the file and the entry.
std::optional<RecordedInference> recorded_inference(const SafetensorsFile& file);

// The registered model the file describes, at its classes, output stride and preprocessing (weights not loaded).
// Errors name the file when it has no description ("pass --model") or names an unknown model.
std::shared_ptr<SegmentationModel> create_model_described_by(const std::string& path);

}  // namespace atrous
