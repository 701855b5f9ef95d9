#include "kernels/resize_nearest.h"

#include <cstddef>
#include <vector>

namespace atrous::kernels {

template <typename Word> void resize_nearest_cpu(const Word* x, Word* y, const NearestShape& s) {
  std::vector<int64_t> cols(static_cast<size_t>(s.out_w));
  for (int64_t ox = 0; ox < s.out_w; ++ox) cols[ox] = nearest_source_index(ox, s.in_w, s.out_w, s.align_corners);
  const int64_t C = s.channels;
#pragma omp parallel for collapse(2) schedule(static) if (s.batch * s.out_h * s.out_w * C > (1 << 16))
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      const int64_t iy = nearest_source_index(oy, s.in_h, s.out_h, s.align_corners);
      const Word* row = x + (n * s.in_h + iy) * s.in_w * C;
      Word* out = y + (n * s.out_h + oy) * s.out_w * C;
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        const Word* pixel = row + cols[ox] * C;
        for (int64_t c = 0; c < C; ++c) out[ox * C + c] = pixel[c];
      }
    }
  }
}

template void resize_nearest_cpu<uint8_t>(const uint8_t*, uint8_t*, const NearestShape&);
template void resize_nearest_cpu<uint32_t>(const uint32_t*, uint32_t*, const NearestShape&);
template void resize_nearest_cpu<uint64_t>(const uint64_t*, uint64_t*, const NearestShape&);

}  // namespace atrous::kernels
