// The model a command runs with given weights: the one named by --model, or, without --model, the one the weights
// file describes in its metadata (models/model_metadata.h), with a line saying so.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/registry.h"

namespace atrous {

// options.num_classes 0 means "as the file says" (or 21 with --model); a non-zero count must agree with the file.
std::shared_ptr<SegmentationModel> model_for_weights(const std::string& command, const std::string& model_name,
                                                     const std::string& weights, const ModelOptions& options);

// The inference scales and flip a command uses: what the command line (or config) gave wins; otherwise what the
// weights file records (the settings it was validated with, models/model_metadata.h), with a line saying so;
// otherwise the command's defaults stay.
void adopt_recorded_inference(const std::string& command, const std::string& weights, bool scales_given,
                              bool flip_given, std::vector<double>& scales, bool& flip);

}  // namespace atrous
