// Dense-CRF mean field on the CPU. Label vectors are padded to a multiple of 8 floats (21 VOC labels -> 24) so
// every per-pixel loop runs over a compile-time width that vectorises without remainders; padding lanes carry a
// huge unary energy, so their probability is exactly 0 (crf/lattice_rows.h's softmax) and so are their messages.
// Lattice kernels take the fused mean field (crf/lattice_mean_field.h); exact kernels filter whole images.
#include "crf/dense_crf.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "crf/host_array.h"
#include "crf/lattice_mean_field.h"
#include "crf/lattice_rows.h"

namespace atrous::crf {
namespace {

constexpr float kPadEnergy = 1e30f;
constexpr int64_t kParallelRows = 16384;  // pixels below which a pass stays on one thread

int64_t padded_width(int labels) { return (static_cast<int64_t>(labels) + 7) / 8 * 8; }

// src: n x labels -> dst: n x stride, padding lanes set to `pad`.
void load_padded(const float* src, int64_t n, int labels, int64_t stride, float pad, float* dst) {
#pragma omp parallel for schedule(static) if (n > kParallelRows)
  for (int64_t i = 0; i < n; ++i) {
    for (int l = 0; l < labels; ++l) dst[i * stride + l] = src[i * labels + l];
    for (int64_t l = labels; l < stride; ++l) dst[i * stride + l] = pad;
  }
}

// The unary, n x labels -> n x stride with kPadEnergy in the padding lanes, checked on the way: returns the first
// non-finite value's index in src, or -1. One pass over the unary instead of a check and then a copy.
int64_t load_padded_unary(const float* src, int64_t n, int labels, int64_t stride, float* dst) {
  int64_t first_bad = n * labels;
#pragma omp parallel for schedule(static) reduction(min : first_bad) if (n > kParallelRows)
  for (int64_t i = 0; i < n; ++i) {
    bool finite = true;
    for (int l = 0; l < labels; ++l) {
      const float u = src[i * labels + l];
      dst[i * stride + l] = u;
      finite = finite && u - u == 0.0f;  // NaN and +-inf give NaN; vectorises where std::isfinite does not
    }
    for (int64_t l = labels; l < stride; ++l) dst[i * stride + l] = kPadEnergy;
    if (!finite) {
      for (int l = 0; l < labels; ++l)
        if (!std::isfinite(src[i * labels + l])) first_bad = std::min(first_bad, i * labels + l);
    }
  }
  return first_bad < n * labels ? first_bad : -1;
}

// i32 [H,W] labels: each pixel's most probable label (the first of equal maxima) in q (n x labels).
void argmax_labels(const float* q, int64_t n, int labels, int32_t* x) {
#pragma omp parallel for schedule(static) if (n > kParallelRows)
  for (int64_t i = 0; i < n; ++i)
    x[i] = static_cast<int32_t>(std::max_element(q + i * labels, q + (i + 1) * labels) - (q + i * labels));
}

struct MessageTerm {
  const float* filtered;  // Kn Q, n x stride
  float weight;
  const float* mu;  // null for Potts
};

// Q_i = softmax(-U_i + messages_i) for rows [i0, i1). S > 0: the stride at compile time.
template <int S>
void update_rows(int64_t i0, int64_t i1, int labels, int64_t stride, const float* unary,
                 const std::vector<MessageTerm>& terms, float* energy_buffer, float* q) {
  const int64_t s = S > 0 ? S : stride;
  constexpr int64_t kFixed = S > 0 ? S : 1;
  float fixed[kFixed];
  float* e = S > 0 ? fixed : energy_buffer;
  for (int64_t i = i0; i < i1; ++i) {
    const float* u = unary + i * s;
#pragma omp simd
    for (int64_t c = 0; c < s; ++c) e[c] = -u[c];
    for (const MessageTerm& term : terms) {
      const float* t = term.filtered + i * s;
      if (!term.mu) {
        const float w = term.weight;
#pragma omp simd
        for (int64_t c = 0; c < s; ++c) e[c] += w * t[c];
      } else {
        rows::subtract_compatibility(term.mu, labels, term.weight, t, e);
      }
    }
    rows::softmax<S>(e, s);
    std::copy(e, e + s, q + i * s);
  }
}

void update(int64_t n, int labels, int64_t stride, const float* unary, const std::vector<MessageTerm>& terms,
            float* q) {
#pragma omp parallel if (n > kParallelRows)
  {
    std::vector<float> energy(static_cast<size_t>(stride));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; i += 64) {
      const int64_t i1 = std::min(i + 64, n);
      switch (stride) {
        case 8: update_rows<8>(i, i1, labels, stride, unary, terms, energy.data(), q); break;
        case 16: update_rows<16>(i, i1, labels, stride, unary, terms, energy.data(), q); break;
        case 24: update_rows<24>(i, i1, labels, stride, unary, terms, energy.data(), q); break;
        case 32: update_rows<32>(i, i1, labels, stride, unary, terms, energy.data(), q); break;
        default: update_rows<0>(i, i1, labels, stride, unary, terms, energy.data(), q); break;
      }
    }
  }
}

void check_label_tensor(const Tensor& t, const char* op, const char* what, int64_t height, int64_t width,
                        int64_t labels) {
  ATROUS_CHECK(t.defined(), op, ": ", what, " is undefined");
  ATROUS_CHECK(t.device().is_cpu() && t.dtype() == DType::f32 && t.dim() == 3, op, ": ", what,
               " must be f32 [H,W,L] on the CPU, got ", t.description());
  if (height >= 0)
    ATROUS_CHECK(t.size(0) == height && t.size(1) == width && t.size(2) == labels, op, ": ", what, " is ",
                 t.description(), " but the CRF is for ", height, "x", width, " pixels with ", labels, " labels");
}

void check_image(const Tensor& image, const char* op) {
  ATROUS_CHECK(image.defined() && image.dim() == 3 && image.size(2) == 3 && image.dtype() == DType::u8 &&
                   image.device().is_cpu(),
               op, ": the image must be u8 [H,W,3] RGB on the CPU, got ",
               image.defined() ? image.description() : std::string("an undefined tensor"));
}

}  // namespace

LabelCompatibility LabelCompatibility::matrix(int labels, std::vector<float> mu) {
  ATROUS_CHECK(labels >= 1 && static_cast<int64_t>(mu.size()) == int64_t(labels) * labels,
               "label compatibility: ", mu.size(), " entries for ", labels, " labels (expected ", labels, "x", labels,
               ")");
  for (float v : mu) ATROUS_CHECK(std::isfinite(v), "label compatibility: entry ", v, " is not finite");
  LabelCompatibility c;
  c.labels = labels;
  c.mu = std::move(mu);
  return c;
}

DenseCrf::DenseCrf(int64_t height, int64_t width, int labels) : height_(height), width_(width), labels_(labels) {
  ATROUS_CHECK(height >= 1 && width >= 1 && labels >= 1, "dense CRF: needs a non-empty image and labels, got ", height,
               "x", width, " with ", labels, " labels");
}

void DenseCrf::add_pairwise(std::shared_ptr<const PairwiseKernel> kernel, float weight,
                            LabelCompatibility compatibility) {
  ATROUS_CHECK(kernel != nullptr, "dense CRF: add_pairwise got no kernel");
  ATROUS_CHECK(kernel->size() == height_ * width_, "dense CRF: a kernel over ", kernel->size(),
               " pixels added to a CRF of ", height_, "x", width_, " = ", height_ * width_, " pixels");
  ATROUS_CHECK(std::isfinite(weight), "dense CRF: pairwise weight ", weight, " is not finite");
  ATROUS_CHECK(compatibility.is_potts() || compatibility.labels == labels_, "dense CRF: a ", compatibility.labels,
               "-label compatibility matrix for a CRF with ", labels_, " labels");
  terms_.push_back({std::move(kernel), weight, std::move(compatibility)});
}

void DenseCrf::check_unary(const Tensor& unary, const char* op) const {
  check_label_tensor(unary, op, "the unary", height_, width_, labels_);
}

Tensor DenseCrf::mean_field(const Tensor& unary, int iterations) const {
  return infer(unary, iterations, /*with_labels=*/false).probabilities;
}

DenseCrfResult DenseCrf::mean_field_with_labels(const Tensor& unary, int iterations) const {
  return infer(unary, iterations, /*with_labels=*/true);
}

DenseCrfResult DenseCrf::infer(const Tensor& unary_tensor, int iterations, bool with_labels) const {
  check_unary(unary_tensor, "dense CRF mean field");
  ATROUS_CHECK(iterations >= 0, "dense CRF mean field: iterations must be >= 0, got ", iterations);
  const Tensor unary_c = unary_tensor.contiguous();
  const float* unary_data = unary_c.data<float>();
  const int64_t n = height_ * width_, stride = padded_width(labels_);
  HostArray<float> unary(n * stride);
  const int64_t bad = load_padded_unary(unary_data, n, labels_, stride, unary.data());
  ATROUS_CHECK(bad < 0, "dense CRF mean field: unary energy ", bad >= 0 ? unary_data[bad] : 0.0f, " at pixel ",
               bad / labels_, " label ", bad % labels_, " is not finite");
  DenseCrfResult result;
  result.probabilities = Tensor::empty({height_, width_, labels_});
  if (with_labels) result.labels = Tensor::empty({height_, width_}, DType::i32);
  float* dst = result.probabilities.data<float>();
  int32_t* labels = with_labels ? result.labels.data<int32_t>() : nullptr;

  // Lattice kernels (the usual case): the fused mean field, whose last pass writes Q and the labels.
  const bool all_lattices = std::all_of(terms_.begin(), terms_.end(), [](const Term& t) {
    return t.kernel->method() == FilterMethod::lattice;
  });
  if (all_lattices) {
    std::vector<LatticeTerm> lattice_terms;
    for (const Term& t : terms_) {
      const PairwiseKernel& k = *t.kernel;
      lattice_terms.push_back({&k.lattice(), k.pre_scale().size() ? k.pre_scale().data() : nullptr,
                               k.post_scale().size() ? k.post_scale().data() : nullptr, t.weight,
                               t.compatibility.is_potts() ? nullptr : t.compatibility.mu.data()});
    }
    lattice_mean_field(lattice_terms, height_, width_, labels_, stride, iterations, unary.data(), {dst, labels});
    return result;
  }

  // Exact kernels (tests, tiny images): filter Q whole, then update.
  HostArray<float> q(n * stride), scratch;
  std::vector<HostArray<float>> filtered;
  std::vector<MessageTerm> messages;
  for (const Term& term : terms_) {
    filtered.emplace_back(n * stride);
    messages.push_back(
        {filtered.back().data(), term.weight, term.compatibility.is_potts() ? nullptr : term.compatibility.mu.data()});
  }
  update(n, labels_, stride, unary.data(), {}, q.data());  // Q0 = softmax(-U)
  for (int it = 0; it < iterations; ++it) {
    for (size_t k = 0; k < terms_.size(); ++k) terms_[k].kernel->apply(q.data(), filtered[k].data(), stride, scratch);
    update(n, labels_, stride, unary.data(), messages, q.data());
  }
#pragma omp parallel for schedule(static) if (n > kParallelRows)
  for (int64_t i = 0; i < n; ++i)
    for (int l = 0; l < labels_; ++l) dst[i * labels_ + l] = q[i * stride + l];
  if (with_labels) argmax_labels(dst, n, labels_, labels);
  return result;
}

double DenseCrf::objective(const Tensor& unary_tensor, const float* q, int64_t stride, bool entropy) const {
  const Tensor unary_c = unary_tensor.contiguous();
  const float* u = unary_c.data<float>();
  const int64_t n = height_ * width_;
  const int labels = labels_;
  std::vector<HostArray<float>> filtered;
  HostArray<float> scratch;
  for (const Term& term : terms_) {
    filtered.emplace_back(n * stride);
    term.kernel->apply(q, filtered.back().data(), stride, scratch);
  }
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > kParallelRows)
  for (int64_t i = 0; i < n; ++i) {
    const float* qi = q + i * stride;
    double sum = 0.0;
    for (int l = 0; l < labels; ++l) {
      const double ql = qi[l];
      if (entropy && ql > 0.0) sum += ql * std::log(ql);
      sum += ql * u[i * labels + l];
    }
    for (size_t k = 0; k < terms_.size(); ++k) {
      const float* t = filtered[k].data() + i * stride;
      const LabelCompatibility& compat = terms_[k].compatibility;
      double t_sum = 0.0;
      for (int l = 0; l < labels; ++l) t_sum += t[l];
      double pair = 0.0;
      for (int l = 0; l < labels; ++l) {
        double m = 0.0;
        if (compat.is_potts()) {
          m = t_sum - t[l];  // sum over l' != l
        } else {
          for (int k2 = 0; k2 < labels; ++k2) m += double(compat.mu[l * labels + k2]) * t[k2];
        }
        pair += qi[l] * m;
      }
      sum += 0.5 * terms_[k].weight * pair;
    }
    total += sum;
  }
  return total;
}

double DenseCrf::kl_divergence(const Tensor& unary, const Tensor& q_tensor) const {
  check_unary(unary, "dense CRF KL divergence");
  check_label_tensor(q_tensor, "dense CRF KL divergence", "Q", height_, width_, labels_);
  const int64_t n = height_ * width_, stride = padded_width(labels_);
  const Tensor qc = q_tensor.contiguous();
  HostArray<float> q(n * stride);
  load_padded(qc.data<float>(), n, labels_, stride, 0.0f, q.data());
  return objective(unary, q.data(), stride, /*entropy=*/true);
}

double DenseCrf::energy(const Tensor& unary, const Tensor& labels_tensor) const {
  check_unary(unary, "dense CRF energy");
  ATROUS_CHECK(labels_tensor.defined() && labels_tensor.dim() == 2 && labels_tensor.size(0) == height_ &&
                   labels_tensor.size(1) == width_ &&
                   (labels_tensor.dtype() == DType::i32 || labels_tensor.dtype() == DType::u8),
               "dense CRF energy: labels must be i32 or u8 [", height_, ",", width_, "], got ",
               labels_tensor.defined() ? labels_tensor.description() : std::string("an undefined tensor"));
  const Tensor lab = labels_tensor.to(DType::i32).contiguous();
  const int32_t* x = lab.data<int32_t>();
  const int64_t n = height_ * width_, stride = padded_width(labels_);
  HostArray<float> onehot(n * stride, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    ATROUS_CHECK(x[i] >= 0 && x[i] < labels_, "dense CRF energy: label ", x[i], " at pixel ", i, " is outside [0, ",
                 labels_, ")");
    onehot[i * stride + x[i]] = 1.0f;
  }
  return objective(unary, onehot.data(), stride, /*entropy=*/false);
}

Tensor unary_from_probabilities(const Tensor& probabilities) {
  check_label_tensor(probabilities, "dense CRF unary", "the probabilities", -1, -1, -1);
  const Tensor p = probabilities.contiguous();
  const int64_t labels = p.size(2), n = p.size(0) * p.size(1);
  const float* src = p.data<float>();
  Tensor unary = Tensor::empty(p.shape());
  float* dst = unary.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0.0;
    for (int64_t l = 0; l < labels; ++l) {
      const float v = src[i * labels + l];
      ATROUS_CHECK(std::isfinite(v) && v >= 0.0f, "dense CRF unary: probability ", v, " at pixel (", i / p.size(1),
                   ", ", i % p.size(1), ") label ", l, " is not a finite number >= 0");
      sum += v;
      dst[i * labels + l] = -std::log(std::max(v, 1e-20f));
    }
    ATROUS_CHECK(sum > 0.0, "dense CRF unary: every probability at pixel (", i / p.size(1), ", ", i % p.size(1),
                 ") is zero");
  }
  return unary;
}

Tensor unary_from_logits(const Tensor& logits) {
  check_label_tensor(logits, "dense CRF unary", "the logits", -1, -1, -1);
  const Tensor x = logits.contiguous();
  const int64_t labels = x.size(2), n = x.size(0) * x.size(1);
  const float* src = x.data<float>();
  for (int64_t k = 0; k < n * labels; ++k)
    ATROUS_CHECK(std::isfinite(src[k]), "dense CRF unary: logit ", src[k], " at pixel (", k / labels / x.size(1), ", ",
                 k / labels % x.size(1), ") label ", k % labels, " is not finite");
  Tensor unary = Tensor::empty(x.shape());
  float* dst = unary.data<float>();
#pragma omp parallel for schedule(static) if (n > kParallelRows)
  for (int64_t i = 0; i < n; ++i) {
    const float* row = src + i * labels;
    float top = row[0];
    for (int64_t l = 1; l < labels; ++l) top = std::max(top, row[l]);
    double sum = 0.0;
    for (int64_t l = 0; l < labels; ++l) sum += std::exp(double(row[l]) - top);
    const double log_sum = top + std::log(sum);
    for (int64_t l = 0; l < labels; ++l) dst[i * labels + l] = static_cast<float>(log_sum - row[l]);
  }
  return unary;
}

DenseCrf make_dense_crf(const Tensor& image_rgb, int labels, const DenseCrfParams& params) {
  check_image(image_rgb, "dense CRF");
  params.validate(labels);
  DenseCrf crf(image_rgb.size(0), image_rgb.size(1), labels);
  const auto compat = [&](const std::vector<float>& mu) {
    return mu.empty() ? LabelCompatibility::potts() : LabelCompatibility::matrix(labels, mu);
  };
  // Gaussian term first, then bilateral, in densecrf's order (it only changes float rounding).
  if (params.gaussian_weight > 0.0f)
    crf.add_pairwise(make_gaussian_kernel(image_rgb.size(0), image_rgb.size(1), params.gaussian_xy,
                                          params.normalization, params.method),
                     params.gaussian_weight, compat(params.gaussian_compatibility));
  if (params.bilateral_weight > 0.0f)
    crf.add_pairwise(make_bilateral_kernel(image_rgb, params.bilateral_xy, params.bilateral_rgb, params.normalization,
                                           params.method),
                     params.bilateral_weight, compat(params.bilateral_compatibility));
  return crf;
}

DenseCrfResult dense_crf_inference(const Tensor& image_rgb, const Tensor& unary, const DenseCrfParams& params) {
  check_image(image_rgb, "dense CRF");
  check_label_tensor(unary, "dense CRF", "the unary", image_rgb.size(0), image_rgb.size(1),
                     unary.defined() && unary.dim() == 3 ? unary.size(2) : -1);
  ATROUS_CHECK(unary.size(2) >= 1, "dense CRF: the unary has no labels: ", unary.description());
  const DenseCrf crf = make_dense_crf(image_rgb, static_cast<int>(unary.size(2)), params);
  return crf.mean_field_with_labels(unary, params.iterations);
}

Tensor crf_refine_logits(const Tensor& image_rgb_u8, const Tensor& logits_hwc, const DenseCrfParams& params) {
  check_image(image_rgb_u8, "crf_refine_logits");
  check_label_tensor(logits_hwc, "crf_refine_logits", "the logits", image_rgb_u8.size(0), image_rgb_u8.size(1),
                     logits_hwc.defined() && logits_hwc.dim() == 3 ? logits_hwc.size(2) : -1);
  return dense_crf_inference(image_rgb_u8, unary_from_logits(logits_hwc), params).probabilities;
}

Tensor crf_refine_probabilities(const Tensor& image_rgb_u8, const Tensor& probabilities_hwc,
                                const DenseCrfParams& params) {
  check_image(image_rgb_u8, "crf_refine_probabilities");
  check_label_tensor(probabilities_hwc, "crf_refine_probabilities", "the probabilities", image_rgb_u8.size(0),
                     image_rgb_u8.size(1),
                     probabilities_hwc.defined() && probabilities_hwc.dim() == 3 ? probabilities_hwc.size(2) : -1);
  return dense_crf_inference(image_rgb_u8, unary_from_probabilities(probabilities_hwc), params).probabilities;
}

}  // namespace atrous::crf
