#!/usr/bin/env bash
# benchmarks/peers/compare_cudnn.py on bench_cuda_conv's real output from an H200 (benchmarks/results/raw/): every
# conv and batch-norm case must become a row with a cuDNN ratio. Google Benchmark appends "/min_time:0.200/manual_time" to
# each name; a parser that expects the registered name alone keeps only the bandwidth rows (it once did).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 "$root/benchmarks/peers/compare_cudnn.py" "$root"/benchmarks/results/raw/nvidia_h200_bench_cuda_conv*.json \
  --out-dir "$out" > "$out/stdout"
table="$out/nvidia_h200.md"
fail() { echo "FAILED: $*"; cat "$table"; exit 1; }
[[ -s "$table" && -s "$out/nvidia_h200.json" ]] || fail "no table or JSON written"
# 7 shapes x 3 passes x (fp32, tf32) conv rows, 3 shapes x 2 passes of batch norm, 5 ops x 2 passes of bandwidth.
conv_rows=$(grep -cE '^\| conv \| [a-z0-9_]+ \| (fwd|bwd_data|bwd_weight) \| (fp32|tf32) \| [0-9.]+ \| [0-9.]+ \((nchw|nhwc)\) \| [0-9.]+ \|' "$table" || true)
bn_rows=$(grep -cE '^\| bn \| .* \| [0-9.]+ \((nchw|nhwc)\) \| [0-9.]+ \|' "$table" || true)
bw_rows=$(grep -cE '^\| bw \| ' "$table" || true)
(( conv_rows == 42 )) || fail "expected 42 conv rows with a cuDNN ratio, got $conv_rows"
(( bn_rows == 6 )) || fail "expected 6 batch-norm rows with a cuDNN ratio, got $bn_rows"
(( bw_rows == 10 )) || fail "expected 10 bandwidth rows, got $bw_rows"
# The summary lines: ratio = cudnn_ms / ours_ms, so fc6's fp32 forward (4.760 ms ours, 1.381 cuDNN) is 0.29.
grep -q 'conv fp32 ratio: median 0.30, min 0.07, max 2.44 over 21 cases' "$table" || fail "fp32 summary line"
grep -q '| conv | fc6_r12_41 | fwd | fp32 | 4.760 | 1.381 (nchw) | 0.29 |' "$table" || fail "fc6 forward row"
grep -q 'device-to-device copy 4093 GB/s' "$table" || fail "copy bandwidth"
echo "compare_cudnn.py: $conv_rows conv, $bn_rows batch-norm, $bw_rows bandwidth rows"
