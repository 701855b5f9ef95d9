#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build (CUDA sources too when nvcc is present) and run
# every test, then rebuild with the CUDA simulator under AddressSanitizer + UndefinedBehaviorSanitizer and run
# everything again: the CPU tests, and every CUDA test executing on the simulator with its race checker and memcheck
# on (kernels/cuda/sim/NOTES.md). ATROUS_REQUIRE_GPU=1 turns a CUDA test's "no device" skip into a failure; the
# simulator stage sets it, so no CUDA test can silently skip there.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${ATROUS_JOBS:-2}"

bash tools/install_deps.sh

echo "== Release build and tests =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== CUDA simulator + AddressSanitizer + UndefinedBehaviorSanitizer (CPU and simulated CUDA tests) =="
cmake -S . -B build-sim-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATROUS_SANITIZE=ON -DATROUS_CUDA_SIM=ON \
  -DATROUS_BUILD_BENCHMARKS=OFF -DATROUS_BUILD_EXAMPLES=OFF
cmake --build build-sim-asan -j"$jobs"
# libgomp keeps its thread pool alive at exit; that is not our leak.
ATROUS_REQUIRE_GPU=1 ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" ctest --test-dir build-sim-asan --output-on-failure -j"$jobs"
