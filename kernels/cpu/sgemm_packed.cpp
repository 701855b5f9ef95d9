// The classic loops around a micro-kernel (Goto's and BLIS's scheme): C is cut into column blocks (kBlockCols) and
// the depth into slices (kDepth); each slice of op(B) is packed into NR-wide panels, each row block of op(A)
// (kBlockRows) into MR-tall panels, and every MR x NR block of C is one micro-kernel call over the slice. One A panel
// (MR x kDepth, 12 KB) stays in L1 while it meets every B panel of the block, which stays in L2 (kDepth x kBlockCols,
// 1 MB). Packing also resolves the transposes and zero-pads partial panels, so the kernels see only whole, aligned,
// contiguous panels; C's partial edge blocks go through a small aligned tile. The sizes were measured on a 2-core
// AVX-512 Xeon VM (2 MB L2): column blocks of 2048 were ~4% slower on a 2048^3 product, depth 512 no faster.
#include "kernels/cpu/sgemm_packed.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/sgemm_microkernels.h"

namespace atrous::kernels::sgemm {
namespace {

// Depth of a slice, rows of an A block (a multiple of every MR), columns of a B block (of every NR).
constexpr int64_t kDepth = 256, kBlockRows = 144, kBlockCols = 1024;
constexpr int kMaxTile = 12 * 32;  // the largest MR x NR

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

KernelShape kernel_shape(GemmBackend backend) {
  return backend == GemmBackend::avx512 ? avx512_kernel() : avx2_kernel();
}

// A 64-byte aligned scratch array per thread, grown on demand and kept (the packing buffers of every call).
class AlignedScratch {
 public:
  float* get(int64_t floats) {
    if (static_cast<int64_t>(storage_.size()) < floats + 16) storage_.resize(static_cast<size_t>(floats + 16));
    return packed_rhs_start(storage_.data());
  }

 private:
  std::vector<float> storage_;
};

// Rows [i0, i0 + rows) x depth [p0, p0 + depth) of op(A), as panels of ks.mr rows: panel q holds element (i, p) at
// [q * depth * mr + p * mr + i]; rows past the end are zero.
void pack_a(const KernelShape& ks, bool transposed, const float* a, int64_t lda, int64_t i0, int64_t p0, int64_t rows,
            int64_t depth, float* out) {
  const int mr = ks.mr;
  for (int64_t q = 0; q < rows; q += mr, out += depth * mr) {
    const int64_t valid = std::min<int64_t>(mr, rows - q);
    if (transposed) {  // op(A)(i, p) = a[p * lda + i]: mr consecutive floats per p
      for (int64_t p = 0; p < depth; ++p) {
        float* dst = out + p * mr;
        std::memcpy(dst, a + (p0 + p) * lda + i0 + q, sizeof(float) * static_cast<size_t>(valid));
        std::fill(dst + valid, dst + mr, 0.0f);
      }
    } else {  // op(A)(i, p) = a[i * lda + p]: mr rows side by side
      ks.interleave(a + (i0 + q) * lda + p0, lda, valid, mr, depth, out);
    }
  }
}

// Depth [p0, p0 + depth) x columns [j0, j0 + cols) of op(B), as panels of ks.nr columns: panel q holds element
// (p, j) at [q * depth * nr + p * nr + j]; columns past the end are zero.
void pack_b(const KernelShape& ks, bool transposed, const float* b, int64_t ldb, int64_t p0, int64_t j0,
            int64_t depth, int64_t cols, float* out) {
  const int nr = ks.nr;
  for (int64_t q = 0; q < cols; q += nr, out += depth * nr) {
    const int64_t valid = std::min<int64_t>(nr, cols - q);
    if (transposed) {  // op(B)(p, j) = b[j * ldb + p]: nr rows of b side by side
      ks.interleave(b + (j0 + q) * ldb + p0, ldb, valid, nr, depth, out);
    } else {  // op(B)(p, j) = b[p * ldb + j]: nr consecutive floats per p
      for (int64_t p = 0; p < depth; ++p) {
        float* dst = out + p * nr;
        std::memcpy(dst, b + (p0 + p) * ldb + j0 + q, sizeof(float) * static_cast<size_t>(valid));
        std::fill(dst + valid, dst + nr, 0.0f);
      }
    }
  }
}

// A block of C smaller than MR x NR: the kernel writes alpha * AB into an aligned tile, merged here with beta * C.
void edge_block(const KernelShape& ks, int64_t depth, const float* a, const float* b, float* c, int64_t ldc,
                int64_t rows, int64_t cols, float alpha, float beta) {
  alignas(64) float tile[kMaxTile];
  ks.kernel(depth, a, b, tile, ks.nr, alpha, 0.0f);
  for (int64_t i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    const float* t = tile + i * ks.nr;
    if (beta == 0.0f) {
      std::copy(t, t + cols, row);
    } else {
      for (int64_t j = 0; j < cols; ++j) row[j] = t[j] + beta * row[j];
    }
  }
}

// C = beta * C (0 without reading it): the product of an empty depth.
void scale(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// C (m x nc, at c) = alpha * op(A)[:, a_col0 : a_col0 + depth] * B + beta * C, B given as packed panels of ks.nr
// columns, panel_stride floats apart, each `depth` rows of ks.nr. Packs op(A) block by block and runs the
// micro-kernel over every ks.mr x ks.nr block of C: each A panel against every B panel.
void multiply_panels(const KernelShape& ks, bool trans_a, const float* a, int64_t lda, int64_t m, int64_t a_col0,
                     int64_t depth, const float* b_panels, int64_t panel_stride, int64_t nc, float alpha, float beta,
                     float* c, int64_t ldc) {
  static thread_local AlignedScratch a_scratch;
  float* packed_a = a_scratch.get(kBlockRows * kDepth);
  for (int64_t ic = 0; ic < m; ic += kBlockRows) {
    const int64_t mc = std::min(kBlockRows, m - ic);
    pack_a(ks, trans_a, a, lda, ic, a_col0, mc, depth, packed_a);
    for (int64_t ir = 0; ir < mc; ir += ks.mr) {
      const float* a_panel = packed_a + ir * depth;
      const int64_t rows = std::min<int64_t>(ks.mr, mc - ir);
      for (int64_t jr = 0; jr < nc; jr += ks.nr) {
        const float* b_panel = b_panels + (jr / ks.nr) * panel_stride;
        const int64_t cols = std::min<int64_t>(ks.nr, nc - jr);
        float* block = c + (ic + ir) * ldc + jr;
        if (rows == ks.mr && cols == ks.nr) {
          ks.kernel(depth, a_panel, b_panel, block, ldc, alpha, beta);
        } else {
          edge_block(ks, depth, a_panel, b_panel, block, ldc, rows, cols, alpha, beta);
        }
      }
    }
  }
}

void check_backend(GemmBackend backend) {
  ATROUS_CHECK(backend != GemmBackend::eigen && cpu_supports(backend), "sgemm: no packed ",
               gemm_backend_name(backend), " kernel on this CPU");
}

}  // namespace

bool cpu_supports(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::avx512: return __builtin_cpu_supports("avx512f");
    case GemmBackend::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GemmBackend::eigen: return true;
  }
  return false;
}

void multiply(GemmBackend backend, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  check_backend(backend);
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scale(m, n, beta, c, ldc);
    return;
  }
  const KernelShape ks = kernel_shape(backend);
  static thread_local AlignedScratch b_scratch;
  float* packed_b = b_scratch.get(kDepth * kBlockCols);
  for (int64_t jc = 0; jc < n; jc += kBlockCols) {
    const int64_t nc = std::min(kBlockCols, n - jc);
    for (int64_t pc = 0; pc < k; pc += kDepth) {
      const int64_t kc = std::min(kDepth, k - pc);
      pack_b(ks, trans_b == Transpose::yes, b, ldb, pc, jc, kc, nc, packed_b);
      // Later slices add to what the first wrote.
      multiply_panels(ks, trans_a == Transpose::yes, a, lda, m, pc, kc, packed_b, kc * ks.nr, nc, alpha,
                      pc == 0 ? beta : 1.0f, c + jc, ldc);
    }
  }
}

int64_t packed_rhs_floats(GemmBackend backend, int64_t k, int64_t n) {
  const int64_t nr = kernel_shape(backend).nr;
  return k * ceil_div(n, nr) * nr + 16;  // + room to align the start to 64 bytes
}

int64_t packed_rhs_slices(int64_t k) { return ceil_div(k, kDepth); }

float* packed_rhs_start(float* storage) {
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(storage) + 63) & ~uintptr_t(63));
}

// Slice s (depth [s * kDepth, ...)) starts at s * kDepth * padded_n, its panels nr wide and the slice's depth deep.
void pack_rhs_slice(GemmBackend backend, Transpose trans_b, const float* b, int64_t ldb, int64_t k, int64_t n,
                    int64_t slice, float* packed) {
  const KernelShape ks = kernel_shape(backend);
  const int64_t p0 = slice * kDepth, padded_n = ceil_div(n, ks.nr) * ks.nr;
  pack_b(ks, trans_b == Transpose::yes, b, ldb, p0, 0, std::min(kDepth, k - p0), n, packed + p0 * padded_n);
}

void multiply_packed_rhs(GemmBackend backend, Transpose trans_a, int64_t m, int64_t n, int64_t k, int64_t k0,
                         int64_t k1, float alpha, const float* a, int64_t lda, const float* packed, float beta,
                         float* c, int64_t ldc) {
  check_backend(backend);
  ATROUS_CHECK(0 <= k0 && k0 <= k1 && k1 <= k, "sgemm: depth range [", k0, ", ", k1, ") outside the packed ", k);
  if (m <= 0 || n <= 0) return;
  if (k1 == k0 || alpha == 0.0f) {
    scale(m, n, beta, c, ldc);
    return;
  }
  const KernelShape ks = kernel_shape(backend);
  const int64_t padded_n = ceil_div(n, ks.nr) * ks.nr;
  for (int64_t jc = 0; jc < n; jc += kBlockCols) {
    const int64_t nc = std::min(kBlockCols, n - jc);
    // The slices the range crosses, each from where the range enters it: a panel's rows (one per depth step) are
    // contiguous, so any run of depth inside a slice is a contiguous part of each of its panels.
    for (int64_t p = k0; p < k1;) {
      const int64_t slice_start = p / kDepth * kDepth, slice_depth = std::min(kDepth, k - slice_start);
      const int64_t depth = std::min(k1, slice_start + slice_depth) - p;
      const float* panels =
          packed + slice_start * padded_n + (jc / ks.nr) * slice_depth * ks.nr + (p - slice_start) * ks.nr;
      multiply_panels(ks, trans_a == Transpose::yes, a, lda, m, p - k0, depth, panels, slice_depth * ks.nr, nc, alpha,
                      p == k0 ? beta : 1.0f, c + jc, ldc);
      p += depth;
    }
  }
}

}  // namespace atrous::kernels::sgemm
