// The order in which the CPU mean field visits an image's pixels, and in which the lattice numbers its vertices:
// 64 x 64 tiles, each row by row. A tile's pixels touch a small, contiguous part of each lattice (vertices are
// numbered by first touch in this order), which stays in the cache while the tile is done; raster order sweeps
// whole image rows, whose bilateral vertices are spread over the lattice.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace atrous::crf {

struct PixelRun {
  int64_t begin, end;  // pixel indices y * width + x: one tile's part of one image row
};

constexpr int64_t kPixelTile = 64;

inline std::vector<PixelRun> tile_order(int64_t height, int64_t width) {
  std::vector<PixelRun> runs;
  for (int64_t ty = 0; ty < height; ty += kPixelTile)
    for (int64_t tx = 0; tx < width; tx += kPixelTile)
      for (int64_t y = ty; y < std::min(ty + kPixelTile, height); ++y)
        runs.push_back({y * width + tx, y * width + std::min(tx + kPixelTile, width)});
  return runs;
}

}  // namespace atrous::crf
