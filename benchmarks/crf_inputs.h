// Synthetic but image-like dense-CRF inputs, shared by bench_crf and benchmarks/peers/compare_densecrf.cpp: smooth shading, 24
// coloured ellipses, sensor noise of sd 5, and unary energies from logits that favour the true region, with noise.
// They give lattice sizes like real photos' (bilateral: 0.26 vertices per pixel at 500x375; a CamVid photo: 0.24).
// Deterministic (a fixed seed), so every run and every peer sees the same pixels.
#pragma once
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/tensor.h"

namespace atrous {

struct CrfInputs {
  Tensor image;  // u8 [H,W,3]
  Tensor unary;  // f32 [H,W,L]
};

inline CrfInputs synthetic_crf_inputs(int height, int width, int labels) {
  std::mt19937 gen(42);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  struct Ellipse {
    float cx, cy, rx, ry, rgb[3];
    int label;
  };
  std::vector<Ellipse> shapes;
  for (int s = 0; s < 24; ++s)
    shapes.push_back({u(gen) * width,
                      u(gen) * height,
                      (0.05f + 0.2f * u(gen)) * width,
                      (0.05f + 0.2f * u(gen)) * height,
                      {255 * u(gen), 255 * u(gen), 255 * u(gen)},
                      1 + static_cast<int>(u(gen) * (labels - 1))});
  CrfInputs in{Tensor::empty({height, width, 3}, DType::u8), Tensor::empty({height, width, labels})};
  uint8_t* rgb = in.image.data<uint8_t>();
  std::vector<float> logits(static_cast<size_t>(labels));
  float* unary = in.unary.data<float>();
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      float c[3] = {80.0f + 60.0f * x / width, 100.0f + 50.0f * y / height, 120.0f};
      int label = 0;
      for (const Ellipse& e : shapes) {
        const float dx = (x - e.cx) / e.rx, dy = (y - e.cy) / e.ry;
        if (dx * dx + dy * dy < 1.0f) {
          label = e.label;
          for (int k = 0; k < 3; ++k) c[k] = e.rgb[k] * (0.8f + 0.2f * dx);
        }
      }
      const int64_t i = int64_t(y) * width + x;
      for (int k = 0; k < 3; ++k)
        rgb[i * 3 + k] = static_cast<uint8_t>(std::clamp(c[k] + 5.0f * noise(gen), 0.0f, 255.0f));
      // A network's logits: blurry near boundaries, wrong at some pixels.
      float top = -1e30f;
      for (int l = 0; l < labels; ++l) {
        logits[l] = (l == label ? 2.5f : 0.0f) + 1.2f * noise(gen);
        top = std::max(top, logits[l]);
      }
      double sum = 0.0;
      for (int l = 0; l < labels; ++l) sum += std::exp(logits[l] - top);
      for (int l = 0; l < labels; ++l) unary[i * labels + l] = static_cast<float>(top + std::log(sum) - logits[l]);
    }
  }
  return in;
}

}  // namespace atrous
