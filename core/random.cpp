#include "core/random.h"

#include <cmath>

namespace atrous {

double Generator::next_normal() {
  // Box-Muller on two uniforms; u1 is shifted away from 0 so log() stays finite.
  const double u1 = (next_uniform() + 0.5 / 16777216.0);
  const double u2 = next_uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

Generator& default_generator() {
  static Generator gen(0x5eed);
  return gen;
}

}  // namespace atrous
