#!/usr/bin/env bash
# The dense CRF through the command line: quickstart's model segments its sample image and saves the logits;
# crf-refine refines them (from logits, then from its own saved marginals), reproduces segment's plain mask with
# zero CRF weights and `segment --crf`'s mask with the same preset; crf-search runs a small coarse-to-fine grid;
# bad inputs fail with a message naming what was wrong.
set -euo pipefail
atrous="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$atrous" quickstart --steps 20 --out-dir "$work/q" > "$work/quickstart.log" 2>&1
weights=(--model tiny-deeplab --classes 4 --weights "$work/q/weights.safetensors")
image="$work/q/sample.png"
"$atrous" segment "${weights[@]}" --image "$image" --out "$work/mask.png" --save-logits "$work/logits.npy" > /dev/null

"$atrous" crf-refine --image "$image" --logits "$work/logits.npy" --out "$work/crf.png" --save-probs "$work/q.npy" \
  > /dev/null
test -s "$work/crf.png" && test -s "$work/q.npy"
# The marginals are probabilities: refining them again runs (a fixed point is not expected, only a valid run).
"$atrous" crf-refine --image "$image" --probs "$work/q.npy" --out "$work/crf2.png" --preset deeplab-v2-resnet101 \
  --iterations 3 --normalization after | grep -q "w1=4 sa=67 sb=3 w2=3 sg=1 iterations=3 normalization=after"
# Without pairwise terms the CRF is the argmax of the scores: segment's own mask.
"$atrous" crf-refine --image "$image" --logits "$work/logits.npy" --out "$work/plain.png" \
  --bilateral-weight 0 --gaussian-weight 0 | grep -q "0.00% of pixels changed"
cmp "$work/plain.png" "$work/mask.png" || { echo "zero-weight CRF differs from the argmax mask"; exit 1; }
# segment --crf uses the model's preset (deeplab-v1-largefov for tiny-deeplab): the same as crf-refine's default.
"$atrous" segment "${weights[@]}" --image "$image" --out "$work/mask_crf.png" --crf > /dev/null
cmp "$work/mask_crf.png" "$work/crf.png" || { echo "segment --crf differs from crf-refine"; exit 1; }

mkdir -p "$work/val/images" "$work/val/scores" "$work/val/labels"
cp "$image" "$work/val/images/a.png" && cp "$work/logits.npy" "$work/val/scores/a.npy"
cp "$work/q/sample_truth.png" "$work/val/labels/a.png"
"$atrous" crf-search --images "$work/val/images" --scores "$work/val/scores" --labels "$work/val/labels" \
  --w1 3 5 --sa 30 80 --sb 3 6 --iterations 3 > "$work/search.log" 2> /dev/null
grep -q "^best: w1=" "$work/search.log" && grep -q "without CRF: mIoU" "$work/search.log" || { cat "$work/search.log"; exit 1; }
# 8 coarse settings and up to 27 refined ones, less the repeated best: the table has more rows than the grid.
rows=$(grep -c "%.*%" "$work/search.log")
(( rows > 9 )) || { echo "crf-search table has $rows rows"; cat "$work/search.log"; exit 1; }

# A .npy of the given H W C float32 whose data come from stdin.
write_npy() {  # write_npy FILE H W C
  local dict="{'descr': '<f4', 'fortran_order': False, 'shape': ($2, $3, $4), }"
  local len=$(( (${#dict} + 11 + 63) / 64 * 64 - 10 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((len % 256)))\\x$(printf %02x $((len / 256)))";
    printf '%-*s\n' $((len - 1)) "$dict"; cat; } > "$1"
}
expect_failure() {  # expect_failure TEXT command...
  local text="$1"; shift
  if "$@" > "$work/out.log" 2>&1; then echo "expected failure: $*"; exit 1; fi
  grep -q -- "$text" "$work/out.log" || { echo "error message lacks '$text':"; cat "$work/out.log"; exit 1; }
}
head -c $((8 * 8 * 4 * 4)) /dev/zero | write_npy "$work/small.npy" 8 8 4
expect_failure "small.npy' is 8x8" "$atrous" crf-refine --image "$image" --logits "$work/small.npy" --out "$work/x.png"
for i in $(seq $((64 * 64 * 4))); do printf '\x00\x00\xc0\x7f'; done | write_npy "$work/nan.npy" 64 64 4
expect_failure "probability nan" "$atrous" crf-refine --image "$image" --probs "$work/nan.npy" --out "$work/x.png"
expect_failure "sigma_rgb" "$atrous" crf-refine --image "$image" --logits "$work/logits.npy" --out "$work/x.png" \
  --bilateral-rgb 0
expect_failure "sigma_gamma" "$atrous" crf-refine --image "$image" --logits "$work/logits.npy" --out "$work/x.png" \
  --gaussian-xy -2
expect_failure "unknown dense CRF preset 'nope'" "$atrous" crf-refine --image "$image" --logits "$work/logits.npy" \
  --out "$work/x.png" --preset nope
expect_failure "exactly one of --probs and --logits" "$atrous" crf-refine --image "$image" --out "$work/x.png"
expect_failure "excludes" "$atrous" crf-refine --image "$image" --logits "$work/logits.npy" --probs "$work/q.npy" \
  --out "$work/x.png"
expect_failure "without --crf" "$atrous" segment "${weights[@]}" --image "$image" --out "$work/x.png" \
  --bilateral-weight 3

# --device: the same spelling and errors on every command; the CUDA CRF where `atrous info` shows a device (its
# marginals agree with the CPU's up to float rounding, so only a valid run is expected), a clear error elsewhere.
search=(--images "$work/val/images" --scores "$work/val/scores" --labels "$work/val/labels" --w1 3 --sa 30 --sb 3
  --iterations 2 --refine-rounds 0)
expect_failure "--device 'gpu' is not a device; expected cpu, cuda" "$atrous" crf-refine --image "$image" \
  --logits "$work/logits.npy" --out "$work/x.png" --device gpu
expect_failure "--device 'cuda:one' is not a device" "$atrous" segment "${weights[@]}" --image "$image" \
  --out "$work/x.png" --crf --device cuda:one
expect_failure "--device 'CPU' is not a device" "$atrous" crf-search "${search[@]}" --device CPU
"$atrous" crf-refine --image "$image" --logits "$work/logits.npy" --out "$work/crf_cpu.png" --device cpu \
  > "$work/cpu.log"
grep -q " on cpu;" "$work/cpu.log" || { cat "$work/cpu.log"; exit 1; }
cmp "$work/crf_cpu.png" "$work/crf.png" || { echo "crf-refine --device cpu differs from the default"; exit 1; }
info=$("$atrous" info)
if grep -q "CUDA devices visible: [1-9]" <<< "$info"; then
  "$atrous" crf-refine --image "$image" --logits "$work/logits.npy" --out "$work/crf_cuda.png" \
    --save-probs "$work/q_cuda.npy" --device cuda > "$work/cuda.log" || { cat "$work/cuda.log"; exit 1; }
  grep -q " on cuda:0;" "$work/cuda.log" && test -s "$work/crf_cuda.png" && test -s "$work/q_cuda.npy"
  "$atrous" segment "${weights[@]}" --image "$image" --out "$work/mask_crf_cuda.png" --crf --device cuda \
    > "$work/segment_cuda.log"
  grep -q "on cuda:0" "$work/segment_cuda.log" || { cat "$work/segment_cuda.log"; exit 1; }
  "$atrous" crf-search "${search[@]}" --device cuda > "$work/search_cuda.log" 2> /dev/null
  grep -q "on cuda:0" "$work/search_cuda.log" && grep -q "^best: w1=3 " "$work/search_cuda.log" \
    || { cat "$work/search_cuda.log"; exit 1; }
else
  expect_failure "--device cuda: cuda:0 is not available" "$atrous" crf-refine --image "$image" \
    --logits "$work/logits.npy" --out "$work/x.png" --device cuda
  expect_failure "--device cuda:1: cuda:1 is not available" "$atrous" segment "${weights[@]}" --image "$image" \
    --out "$work/x.png" --crf --device cuda:1
  expect_failure "--device cuda: cuda:0 is not available" "$atrous" crf-search "${search[@]}" --device cuda
  if grep -q "CUDA backend built: no" <<< "$info"; then
    expect_failure "this atrous build has no CUDA support" "$atrous" crf-refine --image "$image" \
      --logits "$work/logits.npy" --out "$work/x.png" --device cuda
  fi
fi
echo "crf refine: ok"
