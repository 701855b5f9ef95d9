// Each thread owns a contiguous block of pixel tiles and splats them into its own copy of every lattice's values; the
// copies are summed in thread order and blurred by the whole team, then the next pass slices the blurred values
// (read-only) while splatting into the other buffer of the pair. One OpenMP region spans all iterations.
#include "crf/lattice_mean_field.h"

#include <omp.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <algorithm>

#include "core/error.h"
#include "crf/host_array.h"
#include "crf/lattice_rows.h"
#include "crf/pixel_order.h"

namespace atrous::crf {
namespace {

// Below this many floats per pass the mean field stays on one thread (each pass has 2d+4 barriers per kernel).
constexpr int64_t kParallelFloats = 1 << 18;

// One kernel's lattice values: the pair the splat and blur alternate between, and the other threads' splat copies.
struct TermBuffers {
  HostArray<float> a, b, copies;
};

// Denormals (below 1.2e-38) are flushed to zero on this thread while it lives. The softmax already gives ruled-out
// labels exactly 0 (with e^-87 there, their splatted products were denormals and the spatial kernel's mean field
// ran ~1.5x slower); this guards the remaining case of tiny but normal probabilities times small weights, where
// x86 arithmetic on denormals is ~100x slower. Their contribution is below float precision next to any normal
// message.
class FlushDenormals {
 public:
#if defined(__SSE__)
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  static constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
  unsigned saved_;
#endif
};

// One term as the pixel pass reads it: plain pointers, the slice constant folded into the weight.
struct TermView {
  int d1;
  const int32_t* vertex;    // n x d1
  const float* barycentric;  // n x d1
  const float* pre;          // null: ones
  const float* post;         // null: ones
  float slice_weight;        // w * the lattice's slice constant (Potts); the slice constant alone for matrix terms
  float weight;
  const float* mu;       // null for Potts
  const float* blurred;  // this pass's messages to slice; null on the first pass
  float* target;         // this thread's splat target; null on the last pass
};

struct PassArgs {
  int labels;
  int64_t stride;
  const float* unary;
  TermView* terms;
  int num_terms;
  float* energy;   // stride floats (S == 0)
  float* message;  // stride floats, for matrix compatibilities
  float* run_q;    // kPixelTile rows of stride floats: a run's new Q between its softmax and its splat
  MeanFieldOutput out;
};

// The last pass's output of pixel i from its padded row of Q (S floats; S == 0: a.stride): the labels'
// probabilities, unpadded, and the most probable label.
template <int S>
inline void write_output(const PassArgs& a, int64_t i, const float* q) {
  const int labels = a.labels;
  float* dst = a.out.q + i * labels;
  if constexpr (S > 0) {
    // Whole vectors where they fit in the row, then the rest (the next pixel's row may belong to another thread).
    int l = 0;
    for (; l + rows::kLanes <= labels; l += rows::kLanes) rows::store(dst + l, rows::load(q + l));
    for (; l < labels; ++l) dst[l] = q[l];
    if (a.out.labels) a.out.labels[i] = rows::argmax<S / rows::kLanes>(q);
  } else {
    std::copy(q, q + labels, dst);
    if (a.out.labels) a.out.labels[i] = static_cast<int32_t>(std::max_element(q, q + labels) - q);
  }
}

// Energy and softmax of pixel i, for a row width S known at compile time: its new Q goes to q (S floats). The
// energy stays in registers from the slice through the softmax.
template <int S>
inline void slice_softmax(const PassArgs& a, int64_t i, float* q) {
  using rows::kLanes;
  using rows::Vec;
  constexpr int kVectors = S / kLanes;
  Vec e[kVectors];
  for (int c = 0; c < kVectors; ++c) e[c] = -rows::load(a.unary + i * S + c * kLanes);
  for (int k = 0; k < a.num_terms && a.terms[k].blurred; ++k) {
    const TermView& t = a.terms[k];
    Vec acc[kVectors] = {};
    for (int v = 0; v < t.d1; ++v) {
      const Vec w = rows::broadcast(t.barycentric[i * t.d1 + v]);
      const float* src = t.blurred + static_cast<int64_t>(t.vertex[i * t.d1 + v]) * S;
      for (int c = 0; c < kVectors; ++c) acc[c] += w * rows::load(src + c * kLanes);
    }
    const float post = t.slice_weight * (t.post ? t.post[i] : 1.0f);
    if (!t.mu) {
      const Vec pv = rows::broadcast(post);
      for (int c = 0; c < kVectors; ++c) e[c] += pv * acc[c];
    } else {
      for (int c = 0; c < kVectors; ++c) rows::store(a.message + c * kLanes, acc[c] * post);
      for (int c = 0; c < kVectors; ++c) rows::store(a.energy + c * kLanes, e[c]);
      rows::subtract_compatibility(t.mu, a.labels, t.weight, a.message, a.energy);
      for (int c = 0; c < kVectors; ++c) e[c] = rows::load(a.energy + c * kLanes);
    }
  }
  rows::softmax_registers<kVectors>(e);
  for (int c = 0; c < kVectors; ++c) rows::store(q + c * kLanes, e[c]);
}

// Splat of the new Q of pixels i0..i1-1 (q: their rows, S floats each) into every term's target, pixel after pixel
// (a fixed order of addition, hence deterministic sums).
template <int S>
inline void splat_run(const PassArgs& a, int64_t i0, int64_t i1, const float* q) {
  using rows::kLanes;
  using rows::Vec;
  constexpr int kVectors = S / kLanes;
  for (int k = 0; k < a.num_terms; ++k) {
    const int d1 = a.terms[k].d1;
    const int32_t* vertex = a.terms[k].vertex;
    const float* barycentric = a.terms[k].barycentric;
    const float* pre = a.terms[k].pre;
    float* const target = a.terms[k].target;
    for (int64_t i = i0; i < i1; ++i) {
      const float scale = pre ? pre[i] : 1.0f;
      Vec row[kVectors];
      for (int c = 0; c < kVectors; ++c) row[c] = rows::load(q + (i - i0) * S + c * kLanes);
      for (int v = 0; v < d1; ++v) {
        const Vec w = rows::broadcast(barycentric[i * d1 + v] * scale);
        float* dst = target + static_cast<int64_t>(vertex[i * d1 + v]) * S;
        for (int c = 0; c < kVectors; ++c) rows::store(dst + c * kLanes, rows::load(dst + c * kLanes) + w * row[c]);
      }
    }
  }
}

// A run of pixels, kPixelTile at a time: first every pixel's slice and softmax, then their splat. Apart, the slices
// of consecutive pixels overlap in the out-of-order window; with each pixel's splat right after its softmax they
// did not (the splat's stores and its chain of latencies filled the window): 20-25% less time on our AMD EPYC VM,
// where interleaving two or four pixels' slices by hand was no faster or slower.
template <int S>
void pixel_pass(const PassArgs& a, int64_t i0, int64_t i1) {
  const bool last = a.num_terms == 0 || !a.terms[0].target;  // the last pass: Q is the output
  for (int64_t b0 = i0; b0 < i1; b0 += kPixelTile) {
    const int64_t b1 = std::min(b0 + kPixelTile, i1);
    for (int64_t i = b0; i < b1; ++i) slice_softmax<S>(a, i, a.run_q + (i - b0) * S);
    if (!last) {
      splat_run<S>(a, b0, b1, a.run_q);
    } else {
      for (int64_t i = b0; i < b1; ++i) write_output<S>(a, i, a.run_q + (i - b0) * S);
    }
  }
}

// Any row width: the same steps through the row helpers, the energy in memory.
template <>
void pixel_pass<0>(const PassArgs& a, int64_t i0, int64_t i1) {
  const int64_t s = a.stride;
  float* e = a.energy;
  for (int64_t i = i0; i < i1; ++i) {
    const float* row = a.unary + i * s;
    for (int64_t c = 0; c < s; ++c) e[c] = -row[c];
    for (int k = 0; k < a.num_terms && a.terms[k].blurred; ++k) {
      const TermView& t = a.terms[k];
      const float post = t.slice_weight * (t.post ? t.post[i] : 1.0f);
      float* dst = t.mu ? a.message : e;
      if (t.mu) std::fill(a.message, a.message + s, 0.0f);
      rows::slice_add<0>(t.d1, t.vertex + i * t.d1, t.barycentric + i * t.d1, post, t.blurred, s, dst);
      if (t.mu) rows::subtract_compatibility(t.mu, a.labels, t.weight, a.message, e);
    }
    rows::softmax<0>(e, s);
    if (a.num_terms == 0 || !a.terms[0].target) {
      write_output<0>(a, i, e);
      continue;
    }
    for (int k = 0; k < a.num_terms; ++k) {
      const TermView& t = a.terms[k];
      rows::splat<0>(t.d1, t.vertex + i * t.d1, t.barycentric + i * t.d1, t.pre ? t.pre[i] : 1.0f, e, s, t.target);
    }
  }
}

void run_pixel_pass(const PassArgs& a, int64_t i0, int64_t i1) {
  switch (a.stride) {
    case 8: pixel_pass<8>(a, i0, i1); break;
    case 16: pixel_pass<16>(a, i0, i1); break;
    case 24: pixel_pass<24>(a, i0, i1); break;
    case 32: pixel_pass<32>(a, i0, i1); break;
    default: pixel_pass<0>(a, i0, i1); break;
  }
}

}  // namespace

void lattice_mean_field(const std::vector<LatticeTerm>& terms, int64_t height, int64_t width, int labels,
                        int64_t stride, int iterations, const float* unary, MeanFieldOutput out) {
  const int64_t n = height * width;
  ATROUS_CHECK(stride % rows::kLanes == 0 && stride >= labels, "lattice mean field: row stride ", stride,
               " must be a multiple of ", rows::kLanes, " and hold ", labels, " labels");
  for (const LatticeTerm& t : terms)
    ATROUS_CHECK(t.lattice && t.lattice->num_pixels() == n, "lattice mean field: a term's lattice covers ",
                 t.lattice ? t.lattice->num_pixels() : 0, " pixels, not ", n);
  if (terms.empty()) iterations = 0;  // no messages: Q = softmax(-U) at once
  const int threads = n * stride > kParallelFloats ? std::max(1, omp_get_max_threads()) : 1;
  const std::vector<PixelRun> runs = tile_order(height, width);
  std::vector<TermBuffers> buffers(terms.size());
  for (size_t k = 0; k < terms.size(); ++k) {
    const int64_t m = terms[k].lattice->num_points();
    buffers[k].a = HostArray<float>((m + 1) * stride);
    buffers[k].b = HostArray<float>((m + 1) * stride);
    buffers[k].copies = HostArray<float>((threads - 1) * m * stride);
    // Row m is the zero row that missing blur neighbours read; the splat and the blur never write it.
    std::fill(buffers[k].a.data() + m * stride, buffers[k].a.data() + (m + 1) * stride, 0.0f);
    std::fill(buffers[k].b.data() + m * stride, buffers[k].b.data() + (m + 1) * stride, 0.0f);
  }

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush;
    const int team = omp_get_num_threads(), t = omp_get_thread_num();
    HostArray<float> energy(stride), message(stride), run_q(kPixelTile * stride);
    std::vector<TermView> views(terms.size());
    std::vector<float*> shared_target(terms.size()), spare(terms.size());
    for (size_t k = 0; k < terms.size(); ++k) {
      const LatticeTerm& term = terms[k];
      const float slice_scale = term.lattice->slice_scale();
      views[k] = {term.lattice->dims() + 1,
                  term.lattice->vertex_of_pixel(),
                  term.lattice->weight_of_pixel(),
                  term.pre_scale,
                  term.post_scale,
                  term.mu ? slice_scale : term.weight * slice_scale,
                  term.weight,
                  term.mu,
                  nullptr,
                  nullptr};
      shared_target[k] = buffers[k].a.data();
      spare[k] = buffers[k].b.data();
    }
    const PassArgs args{labels, stride, unary, views.data(), static_cast<int>(views.size()), energy.data(),
                        message.data(), run_q.data(), out};
    for (int pass = 0; pass <= iterations; ++pass) {
      const bool last = pass == iterations;
      for (size_t k = 0; k < terms.size(); ++k) {
        const int64_t m = terms[k].lattice->num_points();
        float* mine = t == 0 ? shared_target[k] : buffers[k].copies.data() + (t - 1) * m * stride;
        views[k].target = last ? nullptr : mine;
        if (!last) std::fill(mine, mine + m * stride, 0.0f);
      }
      // Each thread a contiguous share of the tiles (their order fixes the splat's order of addition).
      const int64_t r1 = static_cast<int64_t>(runs.size()) * (t + 1) / team;
      for (int64_t r = static_cast<int64_t>(runs.size()) * t / team; r < r1; ++r)
        run_pixel_pass(args, runs[r].begin, runs[r].end);
      if (last) break;
#pragma omp barrier
      for (size_t k = 0; k < terms.size(); ++k) {
        const int64_t m = terms[k].lattice->num_points();
        sum_thread_copies(shared_target[k], buffers[k].copies.data(), m * stride, team);
        float* result = terms[k].lattice->blur(shared_target[k], spare[k], stride);
        // The next pass slices the result and splats into the other buffer of the pair.
        views[k].blurred = result;
        spare[k] = result;
        shared_target[k] = result == buffers[k].a.data() ? buffers[k].b.data() : buffers[k].a.data();
      }
    }
  }
}

}  // namespace atrous::crf
