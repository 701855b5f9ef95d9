#include "models/multi_scale.h"

#include <cmath>
#include <sstream>

#include "core/ops/elementwise.h"
#include "core/ops/resize.h"

namespace atrous {
namespace {

std::vector<std::string> names_of(const std::vector<NamedTensor>& tensors) {
  std::vector<std::string> names;
  for (const NamedTensor& t : tensors) names.push_back(t.name);
  return names;
}

ModelDefinition msc_definition(const std::shared_ptr<SegmentationModel>& model, const MultiScaleOptions& options) {
  ATROUS_CHECK(model != nullptr, "MultiScale: the wrapped model is null");
  const std::string& base = model->definition().name;
  ATROUS_CHECK(!options.scales.empty() && options.scales[0] == 1.0, "MultiScale(", base,
               "): the first scale must be 1 (it sets the fused map's size), got ",
               options.scales.empty() ? std::string("no scales") : std::to_string(options.scales[0]));
  std::ostringstream scales;
  for (size_t i = 0; i < options.scales.size(); ++i) {
    const double s = options.scales[i];
    ATROUS_CHECK(std::isfinite(s) && s > 0, "MultiScale(", base, "): scale ", i, " must be finite and > 0, got ", s);
    scales << (i ? ", " : "") << s;
  }
  ModelDefinition d = model->definition();
  d.name = options.name.empty() ? base + "-msc" : options.name;
  d.description += "; MSC: inputs at scales {" + scales.str() + "}, score maps fused by max";
  return d;
}

}  // namespace

MultiScale::MultiScale(std::shared_ptr<SegmentationModel> model, MultiScaleOptions options)
    : SegmentationModel("MultiScale", msc_definition(model, options)),
      options_(std::move(options)),
      model_(std::move(model)) {
  for (const auto& [name, child] : model_->children()) register_module(name, child);
  // Parameters registered on the wrapped model itself (not in a child) would not be shared here; refuse them.
  ATROUS_CHECK(names_of(named_parameters()) == names_of(model_->named_parameters()) &&
                   names_of(named_buffers()) == names_of(model_->named_buffers()),
               "MultiScale(", model_->definition().name,
               "): the wrapped model must keep all its parameters and buffers in child modules");
}

int64_t MultiScale::scaled_size(int64_t n, double s) const {
  if (s == 1.0) return n;
  // The small epsilon keeps exact products such as 320 * 0.75 from rounding down through floating-point error.
  const int64_t size = definition_.align_corners ? static_cast<int64_t>(std::floor((n - 1) * s + 1e-9)) + 1
                                                 : static_cast<int64_t>(std::floor(n * s + 1e-9));
  return size < 1 ? 1 : size;
}

std::vector<Tensor> MultiScale::forward_all_scales(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4, definition_.name, ": input must be [N,H,W,C], got ", x.description());
  const bool align = definition_.align_corners;
  std::vector<Tensor> outputs;
  for (double s : options_.scales) {
    Tensor input = x;
    if (s != 1.0)
      input = resize_bilinear(x, ResizeParams::to_size(scaled_size(x.size(1), s), scaled_size(x.size(2), s), align));
    outputs.push_back(model_->forward(input));
  }
  const Tensor& reference = outputs[0];
  Tensor fused = reference;
  for (size_t i = 1; i < outputs.size(); ++i) {
    Tensor scores = outputs[i];
    if (scores.size(1) != reference.size(1) || scores.size(2) != reference.size(2))
      scores = resize_bilinear(scores, ResizeParams::to_size(reference.size(1), reference.size(2), align));
    fused = maximum(fused, scores);
  }
  outputs.push_back(fused);
  return outputs;
}

Tensor MultiScale::forward(const Tensor& x) { return forward_all_scales(x).back(); }

void MultiScale::set_output_stride(int output_stride) {
  model_->set_output_stride(output_stride);
  definition_.output_stride = model_->output_stride();
}

void MultiScale::train(bool on) {
  Module::train(on);
  model_->train(on);  // last, so the wrapped model's own train() (e.g. keeping frozen BN in eval) has the final say
}

}  // namespace atrous
