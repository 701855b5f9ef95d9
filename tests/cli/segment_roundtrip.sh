#!/usr/bin/env bash
# End to end through the command line: quickstart trains and saves weights, `atrous segment` loads them and
# reproduces the quickstart's own mask; bad inputs fail with a message naming what was wrong.
set -euo pipefail
atrous="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$atrous" quickstart --steps 40 --out-dir "$work/q" > "$work/quickstart.log"
"$atrous" segment --model tiny-deeplab --classes 4 --weights "$work/q/weights.safetensors" \
  --image "$work/q/sample.png" --out "$work/mask.png" --overlay "$work/overlay.png" --save-logits "$work/logits.npy"
cmp "$work/mask.png" "$work/q/sample_mask.png" || { echo "segment's mask differs from quickstart's"; exit 1; }
test -s "$work/overlay.png" && test -s "$work/logits.npy"
"$atrous" segment --model tiny-deeplab --classes 4 --weights "$work/q/weights.safetensors" \
  --image "$work/q/sample.png" --out "$work/mask_ms.png" --scales 0.75 1 1.25 --flip
# The weights file records its model, classes and preprocessing: no --model or --classes needed.
"$atrous" segment --weights "$work/q/weights.safetensors" --image "$work/q/sample.png" --out "$work/mask_meta.png" \
  > "$work/meta.log"
grep -q "model tiny-deeplab (4 classes, output stride 4) as recorded in" "$work/meta.log" || { cat "$work/meta.log"; exit 1; }
cmp "$work/mask_meta.png" "$work/mask.png" || { echo "segment without --model differs"; exit 1; }

expect_failure() {  # expect_failure TEXT command...
  local text="$1"; shift
  if "$@" > "$work/out.log" 2>&1; then echo "expected failure: $*"; exit 1; fi
  grep -q -- "$text" "$work/out.log" || { echo "error message lacks '$text':"; cat "$work/out.log"; exit 1; }
}
expect_failure "classifier\|head0" "$atrous" segment --model tiny-deeplab --classes 5 \
  --weights "$work/q/weights.safetensors" --image "$work/q/sample.png" --out "$work/x.png"
echo "not an image" > "$work/bad.png"
expect_failure "bad.png" "$atrous" segment --model tiny-deeplab --classes 4 \
  --weights "$work/q/weights.safetensors" --image "$work/bad.png" --out "$work/x.png"
expect_failure "holds tiny-deeplab for 4 classes, not 5" "$atrous" segment --classes 5 \
  --weights "$work/q/weights.safetensors" --image "$work/q/sample.png" --out "$work/x.png"
expect_failure "unknown model" "$atrous" segment --model nope --weights "$work/q/weights.safetensors" \
  --image "$work/q/sample.png" --out "$work/x.png"
expect_failure "weights.safetensors" "$atrous" segment --model deeplab-v1-largefov --classes 4 \
  --weights "$work/q/weights.safetensors" --image "$work/q/sample.png" --out "$work/x.png"
# --device cpu is the default; a CUDA device (where `atrous info` shows one) segments the same image, else a clear
# error. (CUDA logits agree with the CPU's up to float rounding, so masks are not compared byte for byte.)
"$atrous" segment --model tiny-deeplab --classes 4 --weights "$work/q/weights.safetensors" \
  --image "$work/q/sample.png" --out "$work/mask_cpu.png" --device cpu > "$work/cpu.log"
grep -q "on cpu," "$work/cpu.log" || { cat "$work/cpu.log"; exit 1; }
cmp "$work/mask_cpu.png" "$work/mask.png" || { echo "segment --device cpu differs from the default"; exit 1; }
info=$("$atrous" info)
if grep -q "CUDA devices visible: [1-9]" <<< "$info"; then
  "$atrous" segment --model tiny-deeplab --classes 4 --weights "$work/q/weights.safetensors" \
    --image "$work/q/sample.png" --out "$work/mask_cuda.png" --scales 0.75 1 --flip --device cuda > "$work/cuda.log"
  grep -q "on cuda:0," "$work/cuda.log" && test -s "$work/mask_cuda.png" || { cat "$work/cuda.log"; exit 1; }
else
  expect_failure "--device cuda: cuda:0 is not available" "$atrous" segment --model tiny-deeplab --classes 4 \
    --weights "$work/q/weights.safetensors" --image "$work/q/sample.png" --out "$work/x.png" --device cuda
fi
expect_failure "--device 'gpu:0' is not a device" "$atrous" segment --model tiny-deeplab --classes 4 \
  --weights "$work/q/weights.safetensors" --image "$work/q/sample.png" --out "$work/x.png" --device gpu:0
# The convolution algorithm can be forced from the environment; a name it does not know is an error naming it.
for algorithm in im2col winograd automatic; do
  ATROUS_CONV=$algorithm "$atrous" segment --weights "$work/q/weights.safetensors" --image "$work/q/sample.png" \
    --out "$work/mask_$algorithm.png" > /dev/null
  test -s "$work/mask_$algorithm.png"
done
expect_failure "ATROUS_CONV=fft: unknown convolution algorithm" env ATROUS_CONV=fft "$atrous" segment \
  --weights "$work/q/weights.safetensors" --image "$work/q/sample.png" --out "$work/x.png"
echo "segment round trip: ok"
