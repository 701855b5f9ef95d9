#!/usr/bin/env bash
# A rank killed in the middle of data-parallel training (SIGKILL: no chance to say goodbye) must end the whole job
# within a bounded time, with a non-zero exit and a message naming the rank, instead of leaving rank 0 waiting in
# an all-reduce forever.  usage: dead_rank.sh MPIRUN ATROUS_CLI
set -uo pipefail
source "$(dirname "$0")/ranks.sh"
mpirun=$1
atrous=$2
work=$(mktemp -d)
trap 'kill -9 $job 2>/dev/null; rm -rf "$work"' EXIT

"$mpirun" --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1 -np 2 "$atrous" train --model tiny-deeplab \
  --dataset synthetic --synthetic-count 16 --synthetic-size 32 --batch-size 2 --crop-size 32 --max-iterations 100000 \
  --log-every 1 --val-split '' --checkpoint-every 0 --out-dir "$work/run" > "$work/log" 2>&1 &
job=$!
wait_for_line "$work/log" 'iteration 5/' 60 || { echo "FAILED: training did not start"; cat "$work/log"; exit 1; }
victim=$(rank_pid "$job" 1)
[[ -n "$victim" ]] || { echo "FAILED: rank 1's process was not found"; exit 1; }
kill -9 "$victim"
start=$SECONDS
# Bounded: the job must be over well within 60 s.
wait_for_exit "$job" 60 || { echo "FAILED: the job still runs 60 s after rank 1 died (rank 0 hangs)"; cat "$work/log"; exit 1; }
wait "$job"
rc=$?
echo "the job ended $((SECONDS - start)) s after rank 1 was killed, exit code $rc"
(( rc != 0 )) || { echo "FAILED: exit code 0 after a rank died"; cat "$work/log"; exit 1; }
grep -qiE 'rank 1' "$work/log" || { echo "FAILED: no message names rank 1"; cat "$work/log"; exit 1; }
grep -iE 'rank 1' "$work/log" | head -3
