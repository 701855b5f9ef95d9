#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build (CUDA sources too when nvcc is present),
# run every test, then rebuild the CPU library and tests under AddressSanitizer + UndefinedBehaviorSanitizer
# and run them again. GPU tests skip with a reason on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${ATROUS_JOBS:-2}"

bash tools/install_deps.sh

echo "== Release build and tests =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer (CPU) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATROUS_SANITIZE=ON -DATROUS_CUDA=OFF \
  -DATROUS_BUILD_BENCHMARKS=OFF -DATROUS_BUILD_EXAMPLES=OFF
cmake --build build-asan -j"$jobs"
# libgomp keeps its thread pool alive at exit; that is not our leak.
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
