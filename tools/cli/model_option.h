// The model a command runs with given weights: the one named by --model, or, without --model, the one the weights
// file describes in its metadata (models/model_metadata.h), with a line saying so.
#pragma once
#include <memory>
#include <string>

#include "models/registry.h"

namespace atrous {

// options.num_classes 0 means "as the file says" (or 21 with --model); a non-zero count must agree with the file.
std::shared_ptr<SegmentationModel> model_for_weights(const std::string& command, const std::string& model_name,
                                                     const std::string& weights, const ModelOptions& options);

}  // namespace atrous
