#!/usr/bin/env bash
# A stop signal that reaches one rank only (SIGTERM to rank 1, as a scheduler or `kill` may deliver it): every rank
# must stop after the same step, rank 0 must write the checkpoint, every rank exit with 130; and that 2-rank
# checkpoint must resume in one process with the same global batch (1 x 4 for 2 x 2), while another global batch is
# refused.  usage: interrupt.sh MPIRUN ATROUS_CLI
set -uo pipefail
source "$(dirname "$0")/ranks.sh"
mpirun=$1
atrous=$2
work=$(mktemp -d)
trap 'kill -9 $job 2>/dev/null; rm -rf "$work"' EXIT
common=(train --model tiny-deeplab --dataset synthetic --synthetic-count 16 --synthetic-size 32 --crop-size 32
        --log-every 1 --val-split '' --checkpoint-every 0 --out-dir "$work/run")

"$mpirun" --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1 -np 2 "$atrous" "${common[@]}" --batch-size 2 \
  --max-iterations 100000 > "$work/log" 2>&1 &
job=$!
wait_for_line "$work/log" 'iteration 5/' 60 || { echo "FAILED: training did not start"; cat "$work/log"; exit 1; }
victim=$(rank_pid "$job" 1)
[[ -n "$victim" ]] || { echo "FAILED: rank 1's process was not found"; exit 1; }
kill -TERM "$victim"
wait_for_exit "$job" 60 || { echo "FAILED: the job still runs 60 s after SIGTERM to rank 1"; cat "$work/log"; exit 1; }
wait "$job"
rc=$?
echo "mpirun exit code: $rc"
stopped=$(sed -n 's/.*checkpoint at iteration \([0-9]*\) (Ctrl-C).*/\1/p' "$work/log" | head -1)
[[ -n "$stopped" && -s "$work/run/checkpoint.safetensors" ]] ||
  { echo "FAILED: no checkpoint written after the stop signal"; cat "$work/log"; exit 1; }
(( rc != 0 )) || { echo "FAILED: an interrupted job must not exit with 0"; exit 1; }
echo "stopped and checkpointed at iteration $stopped"

"$atrous" "${common[@]}" --batch-size 4 --resume auto --max-iterations $((stopped + 2)) > "$work/resume.log" 2>&1 ||
  { echo "FAILED: resuming in one process"; cat "$work/resume.log"; exit 1; }
grep -q "resumed from .* at iteration $stopped" "$work/resume.log" &&
  grep -q "finished after $((stopped + 2)) iterations (2 in this run)" "$work/resume.log" ||
  { echo "FAILED: the resumed run"; cat "$work/resume.log"; exit 1; }
if "$atrous" "${common[@]}" --batch-size 2 --resume auto --max-iterations $((stopped + 4)) > "$work/wrong.log" 2>&1 ||
   ! grep -q 'global batch of 4' "$work/wrong.log"; then
  echo "FAILED: resuming with another global batch must be an error naming it"; cat "$work/wrong.log"; exit 1
fi
echo "resumed in one process: iterations $stopped -> $((stopped + 2))"
