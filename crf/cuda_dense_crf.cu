// Dense CRF on CUDA: the permutohedral lattice built on the device and the mean field run there (crf/cuda_dense_crf.h).
//
// Build, per kernel: one thread per pixel embeds its feature vector (crf/lattice_embedding.h, shared with the CPU)
// and inserts the d+1 simplex corners into an open-addressing hash table (linear probing; a slot is claimed with
// atomicCAS, its key written, then published). Occupied slots are compacted to dense vertex ids by a prefix sum;
// the corners are radix-sorted by vertex (stable, so each vertex lists its pixels in pixel order) into the gather
// lists of the splat; blur neighbours are looked up in the table. Filters then run as gathers only: splat per
// (vertex, value), blur per (vertex, value) along directions 0..d, slice per (pixel, value) -- no atomics, so a
// filter's result does not depend on scheduling. The mean field keeps unary, marginals and messages on the device.
#include "crf/cuda_dense_crf.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/device_buffer.h"
#include "core/cuda/launch.cuh"
#include "core/cuda_runtime.h"
#include "crf/lattice_embedding.h"
#include "crf/pairwise_kernel.h"
#include "kernels/cuda/device_algorithms.h"

namespace atrous::crf::cuda {
namespace {

using ::atrous::cuda::launch_1d;

constexpr int32_t kSlotEmpty = -1;
constexpr int32_t kSlotWriting = -2;
constexpr int32_t kSlotReady = 1;
constexpr float kPadEnergy = 1e30f;  // unary of padding lanes, as on the CPU
constexpr int kMaxTerms = 4;

// ---- device memory ----

// A typed device buffer (core/cuda/device_buffer.h) that counts its bytes into one call's memory statistics.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(int64_t size, int device, size_t* live, size_t* peak)
      : buffer_(static_cast<size_t>(std::max<int64_t>(size, 1)) * sizeof(T), device), size_(size), live_(live) {
    if (live_) {
      *live_ += buffer_.bytes();
      *peak = std::max(*peak, *live_);
    }
  }
  DeviceArray(DeviceArray&& o) noexcept
      : buffer_(std::move(o.buffer_)), size_(o.size_), live_(std::exchange(o.live_, nullptr)) {}
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      uncount();
      buffer_ = std::move(o.buffer_);
      size_ = o.size_;
      live_ = std::exchange(o.live_, nullptr);
    }
    return *this;
  }
  ~DeviceArray() { uncount(); }

  T* data() const { return buffer_.as<T>(); }
  int64_t size() const { return size_; }
  // Both ordered on the device's stream like every kernel here; upload returns once `host` may be reused,
  // download once `host` holds the data.
  void upload(const T* host, int64_t count) {
    atrous::cuda::copy(data(), buffer_.device(), host, -1, sizeof(T) * count);
  }
  void download(T* host, int64_t count) const {
    atrous::cuda::copy(host, -1, data(), buffer_.device(), sizeof(T) * count);
  }

 private:
  void uncount() {
    if (live_) *live_ -= buffer_.bytes();
    live_ = nullptr;
  }

  atrous::cuda::DeviceBuffer buffer_;
  int64_t size_ = 0;
  size_t* live_ = nullptr;
};

// Memory accounting shared by one call's buffers.
struct Arena {
  int device;
  size_t live = 0, peak = 0;
  template <typename T>
  DeviceArray<T> make(int64_t size) {
    return DeviceArray<T>(size, device, &live, &peak);
  }
};


// ---- lattice build kernels ----

template <int D>
__device__ int32_t insert_key(const int32_t* key, uint64_t hash, int32_t* state, int32_t* keys, uint64_t mask) {
  for (uint64_t slot = hash & mask;; slot = (slot + 1) & mask) {
    int32_t s = atomicCAS(&state[slot], kSlotEmpty, kSlotWriting);
    if (s == kSlotEmpty) {
      for (int j = 0; j < D; ++j) keys[slot * D + j] = key[j];
      __threadfence();  // the key is visible before the slot says ready
      atomicExch(&state[slot], kSlotReady);
      return static_cast<int32_t>(slot);
    }
    // Another thread owns the slot: wait until its key is written (independent thread scheduling, sm_70+).
    while (s == kSlotWriting) s = atomicAdd(&state[slot], 0);
    __threadfence();
    const volatile int32_t* stored = keys + slot * D;
    bool same = true;
    for (int j = 0; j < D; ++j) same = same && stored[j] == key[j];
    if (same) return static_cast<int32_t>(slot);
  }
}

template <int D>
__device__ int32_t find_key(const int32_t* key, uint64_t hash, const int32_t* state, const int32_t* keys,
                            uint64_t mask) {
  for (uint64_t slot = hash & mask;; slot = (slot + 1) & mask) {
    if (state[slot] != kSlotReady) return -1;  // the table is complete when lookups run
    bool same = true;
    for (int j = 0; j < D; ++j) same = same && keys[slot * D + j] == key[j];
    if (same) return static_cast<int32_t>(slot);
  }
}

// One thread per pixel: simplex corners into the table, their slots and barycentric weights out.
template <int D>
__global__ void embed_insert_kernel(const float* __restrict__ features, int64_t n, int32_t* state, int32_t* keys,
                                    uint64_t mask, int32_t* __restrict__ corner_slot,
                                    float* __restrict__ corner_weight) {
  ATROUS_GRID_STRIDE(i, n) {
    float scaled[D];
    for (int j = 0; j < D; ++j) scaled[j] = features[i * D + j] * lattice_axis_scale(D, j);
    EnclosingSimplex<D> s;
    find_enclosing_simplex(D, scaled, s);
    int32_t key[D];
    for (int k = 0; k <= D; ++k) {
      simplex_vertex_key(D, s, k, key);
      corner_slot[i * (D + 1) + k] = insert_key<D>(key, lattice_key_hash(D, key), state, keys, mask);
      corner_weight[i * (D + 1) + k] = s.barycentric[k];
    }
  }
}

__global__ void mark_occupied_kernel(const int32_t* __restrict__ state, int64_t capacity, int32_t* __restrict__ flag) {
  ATROUS_GRID_STRIDE(slot, capacity) {
    flag[slot] = state[slot] == kSlotReady ? 1 : 0;
  }
}

__global__ void corner_vertex_kernel(const int32_t* __restrict__ corner_slot, const int32_t* __restrict__ dense,
                                     int64_t corners, int32_t* __restrict__ vertex) {
  ATROUS_GRID_STRIDE(e, corners) {
    vertex[e] = dense[corner_slot[e]];
  }
}

// One thread per occupied slot: the blur neighbours of its vertex along every lattice direction.
template <int D>
__global__ void neighbours_kernel(const int32_t* __restrict__ state, const int32_t* __restrict__ keys,
                                  const int32_t* __restrict__ dense, uint64_t capacity, int32_t m,
                                  int32_t* __restrict__ neighbours) {
  ATROUS_GRID_STRIDE(slot, static_cast<int64_t>(capacity)) {
    if (state[slot] != kSlotReady) continue;
    const int32_t p = dense[slot];
    const uint64_t mask = capacity - 1;
    int32_t left[D], right[D];
    for (int j = 0; j <= D; ++j) {
      for (int i = 0; i < D; ++i) {
        left[i] = keys[slot * D + i] - 1;
        right[i] = keys[slot * D + i] + 1;
      }
      if (j < D) {
        left[j] = keys[slot * D + j] + D;
        right[j] = keys[slot * D + j] - D;
      }
      const int32_t l = find_key<D>(left, lattice_key_hash(D, left), state, keys, mask);
      const int32_t r = find_key<D>(right, lattice_key_hash(D, right), state, keys, mask);
      neighbours[(int64_t(j) * m + p) * 2] = l < 0 ? m : dense[l];
      neighbours[(int64_t(j) * m + p) * 2 + 1] = r < 0 ? m : dense[r];
    }
  }
}

// Start of each vertex's run in the corners sorted by vertex.
__global__ void gather_begin_kernel(const int32_t* __restrict__ sorted_vertex, int64_t corners, int32_t m,
                                    int64_t* __restrict__ begin) {
  ATROUS_GRID_STRIDE(t, corners + 1) {
    if (t == corners) {
      begin[m] = corners;
    } else if (t == 0 || sorted_vertex[t - 1] != sorted_vertex[t]) {
      begin[sorted_vertex[t]] = t;
    }
  }
}

// ---- filter kernels: one thread per (row, value) ----

__global__ void splat_gather_kernel(const int64_t* __restrict__ begin, const int32_t* __restrict__ sorted_corner,
                                    const float* __restrict__ corner_weight, int d1, const float* __restrict__ in,
                                    const float* __restrict__ pre, int64_t m, int64_t stride,
                                    float* __restrict__ lattice) {
  ATROUS_GRID_STRIDE(t, m * stride) {
    const int64_t p = t / stride, c = t % stride;
    float acc = 0.0f;
    for (int64_t e = begin[p]; e < begin[p + 1]; ++e) {
      const int64_t corner = sorted_corner[e], pixel = corner / d1;
      const float w = pre ? corner_weight[corner] * pre[pixel] : corner_weight[corner];
      acc += w * in[pixel * stride + c];
    }
    lattice[t] = acc;
  }
}

__global__ void blur_kernel(const int32_t* __restrict__ neighbours, const float* __restrict__ src, int64_t m,
                            int64_t stride, float* __restrict__ dst) {
  ATROUS_GRID_STRIDE(t, m * stride) {
    const int64_t p = t / stride, c = t % stride;
    dst[t] = src[t] + 0.5f * (src[int64_t(neighbours[2 * p]) * stride + c] +
                              src[int64_t(neighbours[2 * p + 1]) * stride + c]);
  }
}

__global__ void slice_kernel(const int32_t* __restrict__ vertex, const float* __restrict__ corner_weight, int d1,
                             const float* __restrict__ lattice, float alpha, const float* __restrict__ post, int64_t n,
                             int64_t stride, float* __restrict__ out) {
  ATROUS_GRID_STRIDE(t, n * stride) {
    const int64_t i = t / stride, c = t % stride;
    float acc = 0.0f;
    for (int k = 0; k < d1; ++k) acc += corner_weight[i * d1 + k] * lattice[int64_t(vertex[i * d1 + k]) * stride + c];
    out[t] = acc * alpha * (post ? post[i] : 1.0f);
  }
}

// Kernel normalisation from the degrees D = K 1 (see crf/pairwise_kernel.h).
__global__ void normalisation_kernel(const float* __restrict__ degree, int64_t n, int mode, float* __restrict__ pre,
                                     float* __restrict__ post) {
  ATROUS_GRID_STRIDE(i, n) {
    const float d = degree[i] + 1e-20f;
    if (mode == int(KernelNormalization::symmetric)) {
      pre[i] = post[i] = rsqrtf(d);
    } else if (mode == int(KernelNormalization::after)) {
      post[i] = 1.0f / d;
    } else if (mode == int(KernelNormalization::before)) {
      pre[i] = 1.0f / d;
    }
  }
}

// ---- mean field ----

struct Messages {
  int count;
  const float* filtered[kMaxTerms];
  float weight[kMaxTerms];
  const float* mu[kMaxTerms];  // null: Potts
};

// One thread per pixel: Q = softmax(-U + messages) over the padded label vector, written into q.
__global__ void mean_field_update_kernel(const float* __restrict__ unary, Messages messages, int64_t n, int labels,
                                         int64_t stride, float* __restrict__ q) {
  ATROUS_GRID_STRIDE(i, n) {
    float* e = q + i * stride;
    const float* u = unary + i * stride;
    for (int64_t c = 0; c < stride; ++c) e[c] = -u[c];
    for (int t = 0; t < messages.count; ++t) {
      const float* f = messages.filtered[t] + i * stride;
      const float w = messages.weight[t];
      if (!messages.mu[t]) {
        for (int64_t c = 0; c < stride; ++c) e[c] += w * f[c];
      } else {
        for (int l = 0; l < labels; ++l) {
          float m = 0.0f;
          for (int k = 0; k < labels; ++k) m += messages.mu[t][l * labels + k] * f[k];
          e[l] -= w * m;
        }
      }
    }
    float top = e[0];
    for (int64_t c = 1; c < stride; ++c) top = fmaxf(top, e[c]);
    float sum = 0.0f;
    for (int64_t c = 0; c < stride; ++c) {
      e[c] = __expf(fmaxf(e[c] - top, -87.0f));
      sum += e[c];
    }
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < stride; ++c) e[c] *= inv;
  }
}

// ---- host side ----

// A lattice on the device, plus its normalisation.
struct DeviceLattice {
  int d = 0;
  int64_t n = 0, m = 0;
  float alpha = 1.0f;
  DeviceArray<int32_t> vertex;         // n * (d+1)
  DeviceArray<float> corner_weight;    // n * (d+1)
  DeviceArray<int32_t> neighbours;     // (d+1) * m * 2
  DeviceArray<int64_t> begin;          // m + 1
  DeviceArray<int32_t> sorted_corner;  // n * (d+1)
  DeviceArray<float> pre, post;        // n each when used
  bool has_pre = false, has_post = false;
};

template <int D>
DeviceLattice build_lattice_d(const float* host_features, int64_t n, Arena& arena) {
  constexpr int d1 = D + 1;
  const int64_t corners = n * d1;
  ATROUS_CHECK(corners < (int64_t(1) << 31), "CUDA lattice: ", n, " points of dimension ", D,
               " exceed the 2^31 simplex-corner limit");
  for (int64_t k = 0; k < n * D; ++k)
    ATROUS_CHECK(std::isfinite(host_features[k]) && std::fabs(host_features[k]) < float(1 << 19),
                 "CUDA lattice: feature ", host_features[k], " of point ", k / D,
                 " is not finite or too large (is a sigma zero or tiny?)");
  DeviceLattice L;
  L.d = D;
  L.n = n;
  L.alpha = 1.0f / (1.0f + std::pow(2.0f, -static_cast<float>(D)));

  // Enough slots that the table never fills, whatever the image: every corner could be a distinct vertex.
  uint64_t capacity = 1024;
  while (capacity < static_cast<uint64_t>(corners + corners / 2)) capacity *= 2;
  DeviceArray<float> features = arena.make<float>(n * D);
  features.upload(host_features, n * D);
  DeviceArray<int32_t> state = arena.make<int32_t>(capacity), keys = arena.make<int32_t>(capacity * D);
  cudaStream_t st = atrous::cuda::stream(arena.device);
  ATROUS_CUDA_CHECK(cudaMemsetAsync(state.data(), 0xff, sizeof(int32_t) * capacity, st));  // kSlotEmpty
  DeviceArray<int32_t> corner_slot = arena.make<int32_t>(corners);
  L.corner_weight = arena.make<float>(corners);
  launch_1d("embed_insert_kernel", n, arena.device, embed_insert_kernel<D>, features.data(), n, state.data(),
            keys.data(), capacity - 1, corner_slot.data(), L.corner_weight.data());

  // Dense vertex ids: exclusive prefix sum over the occupied flags.
  DeviceArray<int32_t> flag = arena.make<int32_t>(capacity), dense = arena.make<int32_t>(capacity);
  launch_1d("mark_occupied_kernel", capacity, arena.device, mark_occupied_kernel, state.data(), capacity, flag.data());
  kernels::cuda::exclusive_sum(arena.device, flag.data(), dense.data(), static_cast<int64_t>(capacity));
  int32_t last_dense = 0, last_flag = 0;
  atrous::cuda::copy(&last_dense, -1, dense.data() + capacity - 1, arena.device, sizeof(int32_t));
  atrous::cuda::copy(&last_flag, -1, flag.data() + capacity - 1, arena.device, sizeof(int32_t));
  L.m = int64_t(last_dense) + last_flag;
  const int32_t m = static_cast<int32_t>(L.m);

  L.vertex = arena.make<int32_t>(corners);
  launch_1d("corner_vertex_kernel", corners, arena.device, corner_vertex_kernel, corner_slot.data(), dense.data(),
            corners, L.vertex.data());
  L.neighbours = arena.make<int32_t>(int64_t(d1) * m * 2);
  launch_1d("neighbours_kernel", capacity, arena.device, neighbours_kernel<D>, state.data(), keys.data(),
            dense.data(), capacity, m, L.neighbours.data());

  // Gather lists: corners sorted by vertex; the radix sort is stable, so each vertex keeps pixel order.
  DeviceArray<int32_t> corner_id = arena.make<int32_t>(corners), sorted_vertex = arena.make<int32_t>(corners);
  {
    std::vector<int32_t> ids(static_cast<size_t>(corners));
    for (int64_t e = 0; e < corners; ++e) ids[e] = static_cast<int32_t>(e);
    corner_id.upload(ids.data(), corners);
  }
  L.sorted_corner = arena.make<int32_t>(corners);
  int bits = 1;
  while ((int64_t(1) << bits) <= L.m) ++bits;
  kernels::cuda::radix_sort_pairs(arena.device, L.vertex.data(), sorted_vertex.data(), corner_id.data(),
                                  L.sorted_corner.data(), corners, bits);
  L.begin = arena.make<int64_t>(L.m + 1);
  launch_1d("gather_begin_kernel", corners + 1, arena.device, gather_begin_kernel, sorted_vertex.data(), corners, m,
            L.begin.data());
  return L;
}

DeviceLattice build_lattice(const float* features, int64_t n, int d, Arena& arena) {
  switch (d) {
    case 2: return build_lattice_d<2>(features, n, arena);
    case 3: return build_lattice_d<3>(features, n, arena);
    case 4: return build_lattice_d<4>(features, n, arena);
    case 5: return build_lattice_d<5>(features, n, arena);
    default: ATROUS_FAIL("CUDA lattice: feature dimension ", d, " is not supported (2..5)");
  }
}

// Scratch for filters: two lattice value buffers of (m + 1) * stride with row m zero.
struct FilterScratch {
  DeviceArray<float> a, b;
  int64_t rows = 0, stride = 0;
};

void ensure_scratch(FilterScratch& s, int64_t m, int64_t stride, Arena& arena) {
  if (s.rows >= m + 1 && s.stride == stride) return;
  s.a = arena.make<float>((m + 1) * stride);
  s.b = arena.make<float>((m + 1) * stride);
  s.rows = m + 1;
  s.stride = stride;
}

// out = alpha * post .* slice(blur(splat(pre .* in))) on device pointers.
void filter(const DeviceLattice& L, const float* in, float* out, int64_t stride, const float* pre, const float* post,
            FilterScratch& s, Arena& arena) {
  ensure_scratch(s, L.m, stride, arena);
  cudaStream_t st = atrous::cuda::stream(arena.device);
  ATROUS_CUDA_CHECK(cudaMemsetAsync(s.a.data() + L.m * stride, 0, sizeof(float) * stride, st));
  ATROUS_CUDA_CHECK(cudaMemsetAsync(s.b.data() + L.m * stride, 0, sizeof(float) * stride, st));
  const int d1 = L.d + 1;
  launch_1d("splat_gather_kernel", L.m * stride, arena.device, splat_gather_kernel, L.begin.data(),
            L.sorted_corner.data(), L.corner_weight.data(), d1, in, pre, L.m, stride, s.a.data());
  float* src = s.a.data();
  float* dst = s.b.data();
  for (int j = 0; j < d1; ++j) {
    launch_1d("blur_kernel", L.m * stride, arena.device, blur_kernel, L.neighbours.data() + int64_t(j) * L.m * 2, src,
              L.m, stride, dst);
    std::swap(src, dst);
  }
  launch_1d("slice_kernel", L.n * stride, arena.device, slice_kernel, L.vertex.data(), L.corner_weight.data(), d1, src,
            L.alpha, post, L.n, stride, out);
}

void normalise(DeviceLattice& L, KernelNormalization mode, FilterScratch& s, Arena& arena) {
  if (mode == KernelNormalization::none) return;
  std::vector<float> ones(static_cast<size_t>(L.n), 1.0f);
  DeviceArray<float> one = arena.make<float>(L.n), degree = arena.make<float>(L.n);
  one.upload(ones.data(), L.n);
  filter(L, one.data(), degree.data(), 1, nullptr, nullptr, s, arena);
  L.has_pre = mode == KernelNormalization::symmetric || mode == KernelNormalization::before;
  L.has_post = mode == KernelNormalization::symmetric || mode == KernelNormalization::after;
  if (L.has_pre) L.pre = arena.make<float>(L.n);
  if (L.has_post) L.post = arena.make<float>(L.n);
  launch_1d("normalisation_kernel", L.n, arena.device, normalisation_kernel, degree.data(), L.n, int(mode),
            L.has_pre ? L.pre.data() : nullptr, L.has_post ? L.post.data() : nullptr);
}

void select_device(int device) {
  const int count = atrous::cuda::device_count();
  ATROUS_CHECK(count > 0, "dense CRF on CUDA: no CUDA device is visible");
  ATROUS_CHECK(device >= 0 && device < count, "dense CRF on CUDA: device cuda:", device, " does not exist (", count,
               " visible)");
  ATROUS_CUDA_CHECK(cudaSetDevice(device));
}

// A CUDA event on the device's stream, destroyed with its scope (also when an error unwinds it).
class Event {
 public:
  explicit Event(int device) : stream_(atrous::cuda::stream(device)) { ATROUS_CUDA_CHECK(cudaEventCreate(&event_)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { cudaEventDestroy(event_); }
  void record() { ATROUS_CUDA_CHECK(cudaEventRecord(event_, stream_)); }
  float ms_since(const Event& earlier) const {
    float ms = 0.0f;
    ATROUS_CUDA_CHECK(cudaEventElapsedTime(&ms, earlier.event_, event_));
    return ms;
  }
  void synchronize() { ATROUS_CUDA_CHECK(cudaEventSynchronize(event_)); }

 private:
  cudaStream_t stream_;
  cudaEvent_t event_ = nullptr;
};

}  // namespace

bool available() { return atrous::cuda::device_count() > 0; }

void lattice_filter_cuda(const float* features, int64_t n, int d, const float* in, float* out, int64_t stride,
                         int device, int64_t* lattice_points) {
  ATROUS_CHECK(n >= 1 && stride >= 1, "lattice filter on CUDA: ", n, " points with stride ", stride);
  select_device(device);
  Arena arena{device};
  const DeviceLattice L = build_lattice(features, n, d, arena);
  DeviceArray<float> din = arena.make<float>(n * stride), dout = arena.make<float>(n * stride);
  din.upload(in, n * stride);
  FilterScratch scratch;
  filter(L, din.data(), dout.data(), stride, nullptr, nullptr, scratch, arena);
  dout.download(out, n * stride);
  if (lattice_points) *lattice_points = L.m;
}

Tensor dense_crf_cuda(const Tensor& image_rgb, const Tensor& unary_tensor, const DenseCrfParams& params, int device,
                      CudaCrfStats* stats) {
  ATROUS_CHECK(image_rgb.defined() && image_rgb.dim() == 3 && image_rgb.size(2) == 3 &&
                   image_rgb.dtype() == DType::u8 && image_rgb.device().is_cpu(),
               "dense CRF on CUDA: the image must be u8 [H,W,3] on the CPU, got ",
               image_rgb.defined() ? image_rgb.description() : std::string("an undefined tensor"));
  ATROUS_CHECK(unary_tensor.defined() && unary_tensor.dim() == 3 && unary_tensor.dtype() == DType::f32 &&
                   unary_tensor.device().is_cpu() && unary_tensor.size(0) == image_rgb.size(0) &&
                   unary_tensor.size(1) == image_rgb.size(1) && unary_tensor.size(2) >= 1,
               "dense CRF on CUDA: the unary must be f32 [H,W,L] on the CPU matching the image ",
               image_rgb.description(), ", got ",
               unary_tensor.defined() ? unary_tensor.description() : std::string("an undefined tensor"));
  const int64_t height = image_rgb.size(0), width = image_rgb.size(1), n = height * width;
  const int labels = static_cast<int>(unary_tensor.size(2));
  params.validate(labels);
  ATROUS_CHECK(params.method == FilterMethod::lattice, "dense CRF on CUDA: only the lattice method runs on the GPU");
  const int64_t stride = (labels + 7) / 8 * 8;
  const Tensor unary_c = unary_tensor.contiguous();
  const float* u = unary_c.data<float>();
  std::vector<float> padded(static_cast<size_t>(n * stride), kPadEnergy);
  for (int64_t i = 0; i < n; ++i) {
    for (int l = 0; l < labels; ++l) {
      const float v = u[i * labels + l];
      ATROUS_CHECK(std::isfinite(v), "dense CRF on CUDA: unary energy ", v, " at pixel ", i, " label ", l,
                   " is not finite");
      padded[i * stride + l] = v;
    }
  }
  select_device(device);
  Arena arena{device};
  Event start(device), built(device), iterations_start(device), done(device);
  start.record();

  // Terms in densecrf's order: Gaussian, then bilateral; weight-0 terms are left out.
  struct Term {
    DeviceLattice lattice;
    float weight;
    DeviceArray<float> mu;
    bool potts;
  };
  std::vector<Term> terms;
  FilterScratch scratch;
  const auto add_term = [&](std::vector<float> features, int d, float weight, const std::vector<float>& mu) {
    Term t{build_lattice(features.data(), n, d, arena), weight, {}, mu.empty()};
    normalise(t.lattice, params.normalization, scratch, arena);
    if (!mu.empty()) {
      t.mu = arena.make<float>(static_cast<int64_t>(mu.size()));
      t.mu.upload(mu.data(), static_cast<int64_t>(mu.size()));
    }
    terms.push_back(std::move(t));
  };
  if (params.gaussian_weight > 0)
    add_term(gaussian_features(height, width, params.gaussian_xy), 2, params.gaussian_weight,
             params.gaussian_compatibility);
  if (params.bilateral_weight > 0)
    add_term(bilateral_features(image_rgb, params.bilateral_xy, params.bilateral_rgb), 5, params.bilateral_weight,
             params.bilateral_compatibility);
  built.record();

  DeviceArray<float> unary = arena.make<float>(n * stride), q = arena.make<float>(n * stride);
  unary.upload(padded.data(), n * stride);
  std::vector<DeviceArray<float>> filtered;
  Messages messages{};
  messages.count = static_cast<int>(terms.size());
  for (size_t k = 0; k < terms.size(); ++k) {
    filtered.push_back(arena.make<float>(n * stride));
    messages.filtered[k] = filtered.back().data();
    messages.weight[k] = terms[k].weight;
    messages.mu[k] = terms[k].potts ? nullptr : terms[k].mu.data();
  }
  iterations_start.record();
  Messages none{};
  launch_1d("mean_field_update_kernel", n, arena.device, mean_field_update_kernel, unary.data(), none, n, labels,
            stride, q.data());
  for (int it = 0; it < params.iterations; ++it) {
    for (size_t k = 0; k < terms.size(); ++k) {
      const DeviceLattice& L = terms[k].lattice;
      filter(L, q.data(), filtered[k].data(), stride, L.has_pre ? L.pre.data() : nullptr,
             L.has_post ? L.post.data() : nullptr, scratch, arena);
    }
    launch_1d("mean_field_update_kernel", n, arena.device, mean_field_update_kernel, unary.data(), messages, n,
              labels, stride, q.data());
  }
  done.record();
  done.synchronize();

  std::vector<float> host_q(static_cast<size_t>(n * stride));
  q.download(host_q.data(), n * stride);
  Tensor out = Tensor::empty({height, width, labels});
  float* dst = out.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int l = 0; l < labels; ++l) dst[i * labels + l] = host_q[i * stride + l];
  if (stats) {
    stats->build_ms = built.ms_since(start);
    stats->inference_ms = done.ms_since(iterations_start);
    stats->lattice_points.clear();
    for (const Term& t : terms) stats->lattice_points.push_back(t.lattice.m);
    stats->device_bytes = arena.peak;
  }
  return out;
}

}  // namespace atrous::crf::cuda
