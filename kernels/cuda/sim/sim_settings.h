// Inside the simulator: its settings, read once from the environment.
//   ATROUS_SIM_SEED       order in which a block's threads resume between barriers (0: thread order; default 1)
//   ATROUS_SIM_RACECHECK  the shared-memory race and initialisation checker: "all" checks every block, 0 none; by
//                         default the first and last 4 blocks of every launch and every 16th in between (the same
//                         code runs in every block: a race shows in the sampled ones, at a fraction of the cost)
//   ATROUS_SIM_MEMORY_MB  simulated device memory per device (default: a quarter of the host's, at most 16 GiB)
//   ATROUS_SIM_DEVICES    how many devices to simulate (default 1)
//   ATROUS_SIM_STACK_KB   stack of each simulated thread (default 64)
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace atrous::sim {

enum class RaceCheck { off, sampled, all };

struct Settings {
  uint64_t seed = 1;
  RaceCheck race_check = RaceCheck::sampled;
  size_t memory_bytes = 0;
  int devices = 1;
  size_t stack_bytes = 64 * 1024;
};

const Settings& settings();

inline std::string to_hex(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v & 15]);
    v >>= 4;
  } while (v);
  return s;
}

}  // namespace atrous::sim
