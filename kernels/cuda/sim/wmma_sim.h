// nvcuda::wmma for the simulator: the tf32 m16n16k8 fragments kernels/cuda/conv2d.cu uses. A fragment's elements
// are spread over the 32 lanes of the warp (lane l holds elements l, l + 32, ... of the row-major tile), as on the
// device each lane holds only its share; load/store/mma are warp-collective (every lane must arrive) and mma_sync
// reads the other lanes' shares through a warp exchange. Products accumulate in fp32 in k order; inputs are
// whatever the kernel put in the fragments (conv2d.cu rounds them with __float_to_tf32, emulated bit-exactly).
#pragma once
#include <type_traits>

#include "kernels/cuda/sim/cuda_sim.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K>
struct tile_shape;
template <int M, int N, int K>
struct tile_shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct tile_shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct tile_shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  using shape = tile_shape<Use, M, N, K>;
  static constexpr int num_elements = shape::rows * shape::cols / 32;
  float x[num_elements];
};

// Rounds to tf32 (10 explicit mantissa bits) to nearest, ties away from zero, as cvt.rna.tf32.f32 does.
inline float __float_to_tf32(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0x1000u) & 0xffffe000u;  // inf and NaN unchanged
  std::memcpy(&f, &bits, 4);
  return f;
}

namespace detail {
inline int lane() { return static_cast<int>(::atrous::sim::thread_idx().x & 31u); }  // 1-D blocks, as conv2d.cu
// Lane l's element e is tile element e * 32 + l (row-major).
template <typename Frag>
inline void element_position(int e, int l, int& r, int& c) {
  const int i = e * 32 + l;
  r = i / Frag::shape::cols;
  c = i % Frag::shape::cols;
}
}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float v) {
  for (float& e : f.x) e = v;
}

template <typename Use, int M, int N, int K, typename T, typename Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const float* p, unsigned ldm) {
  using Frag = fragment<Use, M, N, K, T, Layout>;
  static_assert(!std::is_same<Layout, col_major>::value, "the simulator's WMMA supports row-major tiles");
  __syncwarp();
  const int l = detail::lane();
  for (int e = 0; e < Frag::num_elements; ++e) {
    int r, c;
    detail::element_position<Frag>(e, l, r, c);
    f.x[e] = p[static_cast<size_t>(r) * ldm + c];
  }
}

template <int M, int N, int K, typename T>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout) {
  using Frag = fragment<accumulator, M, N, K, T>;
  __syncwarp();
  const int l = detail::lane();
  for (int e = 0; e < Frag::num_elements; ++e) {
    int r, c;
    detail::element_position<Frag>(e, l, r, c);
    p[layout == mem_row_major ? static_cast<size_t>(r) * ldm + c : static_cast<size_t>(c) * ldm + r] = f.x[e];
  }
}

template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB, typename TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c) {
  using FragA = fragment<matrix_a, M, N, K, TA, LA>;
  using FragB = fragment<matrix_b, M, N, K, TB, LB>;
  using FragC = fragment<accumulator, M, N, K, TC>;
  const void* a_of[32];
  const void* b_of[32];
  ::atrous::sim::warp_exchange(0xffffffffu, &a, a_of);
  ::atrous::sim::warp_exchange(0xffffffffu, &b, b_of);
  const auto a_at = [&](int r, int k) {
    const int i = r * K + k;
    return static_cast<const FragA*>(a_of[i % 32])->x[i / 32];
  };
  const auto b_at = [&](int k, int col) {
    const int i = k * N + col;
    return static_cast<const FragB*>(b_of[i % 32])->x[i / 32];
  };
  const int l = detail::lane();
  float out[FragC::num_elements];
  for (int e = 0; e < FragC::num_elements; ++e) {
    int r, col;
    detail::element_position<FragC>(e, l, r, col);
    float acc = c.x[e];
    for (int k = 0; k < K; ++k) acc += a_at(r, k) * b_at(k, col);
    out[e] = acc;
  }
  __syncwarp();  // every lane has read the others' a and b before any lane may change them
  for (int e = 0; e < FragC::num_elements; ++e) d.x[e] = out[e];
}

}  // namespace nvcuda::wmma
