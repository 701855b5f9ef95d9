#include "cli/model_option.h"

#include <cstdio>

#include "models/model_metadata.h"

namespace atrous {

std::shared_ptr<SegmentationModel> model_for_weights(const std::string& command, const std::string& model_name,
                                                     const std::string& weights, const ModelOptions& options) {
  if (!model_name.empty()) {
    ModelOptions o = options;
    if (o.num_classes == 0) o.num_classes = 21;
    return create_model(model_name, o);
  }
  auto model = create_model_described_by(weights);
  ATROUS_CHECK(options.num_classes == 0 || options.num_classes == model->num_classes(), command, ": ", weights,
               " holds ", model->definition().name, " for ", model->num_classes(), " classes, not ",
               options.num_classes);
  if (options.output_stride != 0) model->set_output_stride(options.output_stride);
  std::printf("%s: model %s (%d classes, output stride %d) as recorded in %s\n", command.c_str(),
              model->definition().name.c_str(), model->num_classes(), model->output_stride(), weights.c_str());
  return model;
}

void adopt_recorded_inference(const std::string& command, const std::string& weights, bool scales_given,
                              bool flip_given, std::vector<double>& scales, bool& flip) {
  if (scales_given && flip_given) return;
  const std::optional<RecordedInference> recorded = recorded_inference(SafetensorsFile(weights));
  if (!recorded) return;
  if (!scales_given) scales = recorded->scales;
  if (!flip_given) flip = recorded->flip;
  std::string text;
  for (double s : scales) {
    char number[32];
    std::snprintf(number, sizeof number, "%g", s);
    text += (text.empty() ? "" : " ") + std::string(number);
  }
  std::printf("%s: input scales %s%s as recorded in %s (--scales / --flip override)\n", command.c_str(), text.c_str(),
              flip ? " with flip" : ", no flip", weights.c_str());
}

}  // namespace atrous
