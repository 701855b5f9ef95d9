#include "models/model_metadata.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "models/registry.h"

namespace atrous {
namespace {

constexpr const char* kName = "model.name";
constexpr const char* kClasses = "model.classes";
constexpr const char* kOutputStride = "model.output_stride";
constexpr const char* kAlignCorners = "model.align_corners";
constexpr const char* kPreprocessing = "model.preprocessing";
constexpr const char* kInferenceScales = "inference.scales";
constexpr const char* kInferenceFlip = "inference.flip";

std::string exact(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

// "rgb 0.0039215686274509803 0.485 0.456 0.406 0.229 0.224 0.225": channel order, input scale, mean, std.
std::string encode(const Preprocessing& p) {
  std::string s = p.bgr ? "bgr" : "rgb";
  s += " " + exact(p.input_scale);
  for (float m : p.mean) s += " " + exact(m);
  for (float d : p.std) s += " " + exact(d);
  return s;
}

bool decode(const std::string& text, Preprocessing& p) {
  std::istringstream in(text);
  std::string order;
  if (!(in >> order) || (order != "rgb" && order != "bgr")) return false;
  p.bgr = order == "bgr";
  if (!(in >> p.input_scale)) return false;
  for (float& m : p.mean)
    if (!(in >> m)) return false;
  for (float& d : p.std)
    if (!(in >> d)) return false;
  std::string rest;
  return !(in >> rest);
}

// The value when the whole of `text` is a number `parse` (a std::sto* call) accepts, else nothing.
template <typename T, typename Parse>
std::optional<T> whole_number(const std::string& text, Parse parse) {
  size_t used = 0;
  T value{};
  try {
    value = parse(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size()) return std::nullopt;
  return value;
}

int positive_int(const SafetensorsFile& file, const char* key) {
  const std::string& text = file.metadata().at(key);
  const auto value = whole_number<int>(text, [](const std::string& t, size_t* used) { return std::stoi(t, used); });
  ATROUS_CHECK(value && *value >= 1, file.path(), ": metadata '", key, "' = '", text, "' is not a positive integer");
  return *value;
}

bool true_or_false(const SafetensorsFile& file, const char* key) {
  const std::string& text = file.metadata().at(key);
  ATROUS_CHECK(text == "true" || text == "false", file.path(), ": metadata '", key, "' = '", text,
               "' is not true or false");
  return text == "true";
}

}  // namespace

std::map<std::string, std::string> model_metadata(const SegmentationModel& model) {
  const ModelDefinition& d = model.definition();
  return {{kName, d.name},
          {kClasses, std::to_string(d.num_classes)},
          {kOutputStride, std::to_string(d.output_stride)},
          {kAlignCorners, d.align_corners ? "true" : "false"},
          {kPreprocessing, encode(d.preprocessing)}};
}

std::map<std::string, std::string> model_metadata_of(const Module& module) {
  const auto* model = dynamic_cast<const SegmentationModel*>(&module);
  return model ? model_metadata(*model) : std::map<std::string, std::string>{};
}

std::optional<SavedModelInfo> saved_model_info(const SafetensorsFile& file) {
  const auto& meta = file.metadata();
  if (meta.find(kName) == meta.end()) return std::nullopt;
  for (const char* key : {kClasses, kOutputStride, kAlignCorners, kPreprocessing})
    ATROUS_CHECK(meta.count(key), file.path(), ": metadata names model '", meta.at(kName), "' but lacks '", key, "'");
  SavedModelInfo info;
  info.name = meta.at(kName);
  info.num_classes = positive_int(file, kClasses);
  info.output_stride = positive_int(file, kOutputStride);
  info.align_corners = true_or_false(file, kAlignCorners);
  ATROUS_CHECK(decode(meta.at(kPreprocessing), info.preprocessing), file.path(), ": metadata '", kPreprocessing,
               "' = '", meta.at(kPreprocessing), "' is not 'rgb|bgr scale mean0 mean1 mean2 std0 std1 std2'");
  return info;
}

std::map<std::string, std::string> inference_metadata(const RecordedInference& inference) {
  std::string scales;
  for (double s : inference.scales) scales += (scales.empty() ? "" : " ") + exact(s);
  return {{kInferenceScales, scales}, {kInferenceFlip, inference.flip ? "true" : "false"}};
}

std::optional<RecordedInference> recorded_inference(const SafetensorsFile& file) {
  const auto& meta = file.metadata();
  const bool has_scales = meta.count(kInferenceScales) > 0;
  if (!has_scales && meta.count(kInferenceFlip) == 0) return std::nullopt;
  ATROUS_CHECK(has_scales && meta.count(kInferenceFlip), file.path(), ": metadata has one of '", kInferenceScales,
               "' and '", kInferenceFlip, "' but not the other");
  RecordedInference inference;
  const std::string& text = meta.at(kInferenceScales);
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    const auto scale =
        whole_number<double>(word, [](const std::string& w, size_t* used) { return std::stod(w, used); });
    ATROUS_CHECK(scale && std::isfinite(*scale) && *scale > 0, file.path(), ": metadata '", kInferenceScales, "' = '",
                 text, "': '", word, "' is not a positive number");
    inference.scales.push_back(*scale);
  }
  ATROUS_CHECK(!inference.scales.empty(), file.path(), ": metadata '", kInferenceScales, "' lists no scale");
  inference.flip = true_or_false(file, kInferenceFlip);
  return inference;
}

std::shared_ptr<SegmentationModel> create_model_described_by(const std::string& path) {
  const std::optional<SavedModelInfo> info = saved_model_info(SafetensorsFile(path));
  ATROUS_CHECK(info.has_value(), path,
               ": the file does not say which model it holds (no 'model.name' in its metadata); pass --model");
  ATROUS_CHECK(model_registry().contains(info->name), path, ": holds weights of model '", info->name,
               "', which this build does not know; pass --model");
  ModelOptions options;
  options.num_classes = info->num_classes;
  auto model = create_model(info->name, options);
  if (info->output_stride != model->output_stride()) model->set_output_stride(info->output_stride);
  model->set_preprocessing(info->preprocessing);
  return model;
}

}  // namespace atrous
