#!/usr/bin/env bash
# `atrous quickstart --device cuda` (a GPU, or the CUDA simulator in CI) trains like the CPU run of the same seed:
# every logged loss within 1e-4 relative and the held-out mIoU within 0.01 (the devices sum in different orders, so
# the runs agree to float rounding, not bit for bit). Without a CUDA device: the clear error, or a failure when
# ATROUS_REQUIRE_GPU=1.
# Usage: quickstart_devices.sh ATROUS [quickstart options]; CI passes a smaller run than the default quickstart (the
# simulator is slow): the README's `quickstart --device cuda --steps 20` was checked by hand the same way.
set -euo pipefail
atrous="$1"
shift
options=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! "$atrous" info | grep -q "CUDA devices visible: [1-9]"; then
  [[ "${ATROUS_REQUIRE_GPU:-0}" == 1 ]] && { echo "ATROUS_REQUIRE_GPU=1 but no CUDA device is visible"; exit 1; }
  if "$atrous" quickstart --steps 2 --device cuda --out-dir "$work/x" > "$work/err.log" 2>&1; then
    echo "quickstart --device cuda must fail without a CUDA device"; exit 1
  fi
  grep -q "not available" "$work/err.log" || { cat "$work/err.log"; exit 1; }
  echo "no CUDA device: the error is clear (CUDA run skipped)"
  exit 0
fi

"$atrous" quickstart "${options[@]}" --device cpu --out-dir "$work/cpu" > "$work/cpu.log" 2>&1
"$atrous" quickstart "${options[@]}" --device cuda --out-dir "$work/cuda" > "$work/cuda.log" 2>&1
# train_log.csv: iteration,epoch,loss,...; compare the loss column row by row.
paste -d, <(cut -d, -f3 "$work/cpu/train_log.csv") <(cut -d, -f3 "$work/cuda/train_log.csv") | tail -n +2 |
  awk -F, '{ d = $1 - $2; if (d < 0) d = -d; s = $1 < 0 ? -$1 : $1; if (d > 1e-4 * s + 1e-6) { print "loss differs at row " NR ": cpu " $1 ", cuda " $2; bad = 1 } n++ }
           END { if (n < 1) { print "no losses logged"; exit 1 } exit bad }'
miou() { grep -o '"mean_iou": *[0-9.e-]*' "$1/metrics.json" | head -1 | sed 's/.*: *//'; }
awk -v a="$(miou "$work/cpu")" -v b="$(miou "$work/cuda")" \
  'BEGIN { d = a - b; if (d < 0) d = -d; if (d > 0.01) { print "held-out mIoU: cpu " a ", cuda " b; exit 1 } }'
echo "quickstart on cuda matches the CPU: $(tail -n +2 "$work/cuda/train_log.csv" | wc -l) losses, mIoU $(miou "$work/cuda")"
