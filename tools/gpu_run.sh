#!/usr/bin/env bash
# The whole GPU check in one call of the device tool, most important first: configure and build the CUDA backend for
# sm_90, run every CUDA test with ATROUS_REQUIRE_GPU=1 (a skip is a failure), then compute-sanitizer memcheck and
# racecheck, then a short training run on the GPU, then the cuDNN benchmarks and their results table; everything
# lands in $OUT (at most 8 files, device-tool limit). Without a visible GPU it stops at once with exit code 2.
#
# Here (the CPU machine), once:   tools/gpu_run.sh --fetch-deps
#   downloads the Debian -dev packages the build needs (Eigen, GoogleTest, Google Benchmark, libpng, libjpeg,
#   nlohmann-json, CLI11; ~4 MB) into .gpu-deps/, which .gitignore keeps out of git; the GPU machine cannot reach
#   any package registry.
# Then, through the device tool:  run(command="bash tools/gpu_run.sh", carry=[".gpu-deps"], timeout_s=600)
#   Stage limits add up to the 570 s budget (GPU_RUN_BUDGET): configure 30 + build 120, tests 60, memcheck 20 +
#   memcheck of the op cases 25 + racecheck 40, training 30, benchmarks 125 fp32 + 80 tf32 + 40 CRF (first H200 run, 16 cores: configure 8 s,
#   build 29 s, tests 3 s, sanitizers 20 s, training 2 s, fp32 benchmarks ~75 s); each is also cut to what is left, so the call
#   ends inside the tool's 10 minutes, and a stage with no time left is skipped and says so. GPU_RUN_STAGES="build
#   tests sanitize train bench" picks stages: a second call on the still-warm machine (build-gpu/ is kept) can skip
#   the build. The exit code is 0 only when every stage that ran passed.
# Afterwards copy $OUT's results_<device>.json/.md into benchmarks/results/ and commit them.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/cuda/bin:$PATH"
deps_dir="$root/.gpu-deps"

if [[ "${1:-}" == "--fetch-deps" ]]; then
  mkdir -p "$deps_dir"
  grep -qx '/.gpu-deps/' "$root/.git/info/exclude" 2>/dev/null || echo '/.gpu-deps/' >> "$root/.git/info/exclude"
  (cd "$deps_dir" && apt-get download libeigen3-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev \
      libbenchmark1debian libpng-dev libpng16-16 libjpeg-dev libjpeg62-turbo-dev libjpeg62-turbo zlib1g-dev \
      libcli11-dev)
  du -sh "$deps_dir"
  exit 0
fi

OUT=${OUT:-$root/gpu-out}
mkdir -p "$OUT"
build="$root/build-gpu"
stages=${GPU_RUN_STAGES:-build tests sanitize train bench}
log="$OUT/gpu_run.log"
summary=()
note() { echo "== $*" | tee -a "$log"; }
# stage NAME SECONDS COMMAND...: runs with a time limit, output to the log, remembers the outcome for the summary.
# Every stage is cut to what is left of the whole budget, so the call ends inside the device tool's 10 minutes.
deadline=$((SECONDS + ${GPU_RUN_BUDGET:-570}))
stage() {
  local name=$1 limit=$2
  shift 2
  local left=$((deadline - SECONDS - 5))
  (( left < limit )) && limit=$left
  if (( limit <= 0 )); then
    summary+=("$(printf '%-28s skipped: out of time' "$name")")
    return 1
  fi
  note "$name (limit ${limit}s): $*"
  local start=$SECONDS
  timeout --signal=TERM --kill-after=10 "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  summary+=("$(printf '%-28s rc=%-3s %4ss' "$name" "$rc" "$((SECONDS - start))")")
  (( rc != 0 )) && failed=1
  return $rc
}
failed=0

{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1
  nvcc --version 2>&1 | tail -2
  grep -h -E '#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' /usr/local/cuda/include/cudnn_version*.h 2>/dev/null | sort -u
  echo "cpus: $(nproc)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt" | tee -a "$log"
# No GPU, no check: say so loudly instead of letting every CUDA test skip into a green run.
if ! nvidia-smi -L > /dev/null 2>&1 || ! nvidia-smi -L | grep -q GPU; then
  note "FAILED: no NVIDIA GPU is visible on this machine (nvidia-smi -L); nothing was run"
  exit 2
fi

# Carried Debian packages: unpacked into a private prefix (never into /), found through CMAKE_PREFIX_PATH.
prefix=/tmp/atrous-gpu-deps
if compgen -G "$deps_dir/*.deb" > /dev/null; then
  mkdir -p "$prefix"
  for deb in "$deps_dir"/*.deb; do dpkg -x "$deb" "$prefix"; done
  # zlib1g-dev's libz.so points at Debian's absolute /lib/.../libz.so.1.2.13: aim it at this system's libz.so.1.
  libdir="$prefix/usr/lib/x86_64-linux-gnu"
  if [[ -L "$libdir/libz.so" && ! -e "$libdir/libz.so" ]]; then
    ln -sf "$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1)" \
      "$libdir/libz.so"
  fi
  export CMAKE_PREFIX_PATH="$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CPATH="$prefix/usr/include:$prefix/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}"
  note "using carried packages from $deps_dir"
fi
# cuDNN: the toolkit's copy if it has one, else the one in PyTorch's wheel.
if [[ ! -e /usr/local/cuda/include/cudnn.h ]]; then
  cudnn_root=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null || true)
  if [[ -n "$cudnn_root" ]]; then
    export CUDNN_PATH="$cudnn_root"
    [[ -e "$cudnn_root/lib/libcudnn.so" ]] || ln -sf "$(ls "$cudnn_root"/lib/libcudnn.so.* | head -1)" "$cudnn_root/lib/libcudnn.so" 2>/dev/null
    export LD_LIBRARY_PATH="$cudnn_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    note "cuDNN from $cudnn_root"
  fi
fi

tests=(test_cuda_runtime test_op_cases test_cuda_ops test_crf_cuda test_cuda_sim test_device_training test_nccl)
export ATROUS_REQUIRE_GPU=1
if [[ " $stages " == *" build "* ]]; then
  generator=()
  command -v ninja > /dev/null && generator=(-G Ninja)
  stage configure 30 cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DATROUS_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DATROUS_BUILD_EXAMPLES=OFF -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc
  stage build 120 cmake --build "$build" -j"${GPU_RUN_JOBS:-16}" --target "${tests[@]}" atrous_cli bench_cuda_conv \
    bench_crf
fi

if [[ " $stages " == *" tests "* ]]; then
  # One stage for all of them: a test binary's failures are in the log, its XML in $OUT for test_cuda_ops.
  stage cuda_tests 60 bash -c 'rc=0; for t in "$@"; do echo "-- $t"; "$0/tests/$t" || rc=1; done; exit $rc' \
    "$build" "${tests[@]}"
fi

if [[ " $stages " == *" sanitize "* ]] && command -v compute-sanitizer > /dev/null; then
  # The out-of-memory test makes cudaMalloc fail on purpose, which memcheck would report as an API error.
  stage memcheck 20 compute-sanitizer --tool memcheck --error-exitcode 1 --log-file "$OUT/sanitizer.log" \
    "$build/tests/test_cuda_ops" --gtest_filter='-CudaAllocator.OutOfMemoryNamesTheSize'
  # Every op case on the device (test_op_cases' CPU-only checks are left out).
  stage memcheck_ops 25 compute-sanitizer --tool memcheck --error-exitcode 1 --log-file "$OUT/sanitizer_ops.log" \
    "$build/tests/test_op_cases" --gtest_filter='*CudaMatchesCpu*'
  stage racecheck 40 compute-sanitizer --tool racecheck --error-exitcode 1 \
    "$build/tests/test_op_cases" --gtest_filter='*CudaMatchesCpu*/conv2d*:*CudaMatchesCpu*/batch_norm*:*CudaMatchesCpu*/softmax_cross_entropy*:*CudaMatchesCpu*/sum*'
fi

if [[ " $stages " == *" train "* ]]; then
  # The README's quickstart on the GPU: trains, evaluates, must still learn.
  stage train_quickstart 30 "$build/atrous" quickstart --device cuda --steps 300 --min-miou 0.45 --out-dir ""
fi

if [[ " $stages " == *" bench "* ]]; then
  # Two runs, so that the fp32 results survive if the tf32 half is cut short by the budget.
  stage bench_fp32 125 "$build/benchmarks/bench_cuda_conv" --benchmark_filter='^(conv|bn|bw)/' \
    --benchmark_out="$OUT/bench_cuda_conv.json" --benchmark_out_format=json
  stage bench_tf32 80 "$build/benchmarks/bench_cuda_conv" --benchmark_filter='^conv_tf32/' \
    --benchmark_out="$OUT/bench_cuda_conv_tf32.json" --benchmark_out_format=json
  if [[ -s "$OUT/bench_cuda_conv.json" ]]; then
    python3 "$root/benchmarks/peers/compare_cudnn.py" "$OUT"/bench_cuda_conv*.json --out-dir "$OUT/results" >> "$log" 2>&1
    # Flatten: the device tool returns files at most two folders down, and at most 8 of them.
    for f in "$OUT"/results/*; do mv "$f" "$OUT/results_$(basename "$f")"; done
    rmdir "$OUT/results" 2>/dev/null
  fi
  stage bench_crf_cuda 40 "$build/benchmarks/bench_crf" --benchmark_filter='^BM_CrfCuda'  # table in the log
fi

echo
echo "== failures (last lines of the log mentioning FAILED or ERROR)"
grep -E '\[  FAILED  \]|ERROR SUMMARY: [1-9]|error:|Error' "$log" | tail -20
grep -h "ERROR SUMMARY" "$OUT/sanitizer.log" 2>/dev/null
echo "== results table"
cat "$OUT"/results_*.md 2>/dev/null | tail -40
echo "== stages"
printf '%s\n' "${summary[@]}"
exit $failed
