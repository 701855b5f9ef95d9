#!/usr/bin/env bash
# A rank killed in the middle of data-parallel training (SIGKILL: no chance to say goodbye) must end the whole job
# within a bounded time, with a non-zero exit and a message naming the rank, instead of leaving rank 0 waiting in
# an all-reduce forever.  usage: dead_rank.sh MPIRUN ATROUS_CLI
set -uo pipefail
mpirun=$1
atrous=$2
work=$(mktemp -d)
trap 'kill -9 $job 2>/dev/null; rm -rf "$work"' EXIT

"$mpirun" --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1 -np 2 "$atrous" train --model tiny-deeplab \
  --dataset synthetic --synthetic-count 16 --synthetic-size 32 --batch-size 2 --crop-size 32 --max-iterations 100000 \
  --log-every 1 --val-split '' --checkpoint-every 0 --out-dir "$work/run" > "$work/log" 2>&1 &
job=$!

# Rank 1's process: a child of mpirun whose environment says OMPI_COMM_WORLD_RANK=1; wait until training runs.
victim=""
for _ in $(seq 1 300); do
  if grep -q 'iteration 5/' "$work/log" 2>/dev/null; then
    for pid in $(pgrep -P "$job"); do
      if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$pid; fi
    done
    [[ -n "$victim" ]] && break
  fi
  sleep 0.2
done
[[ -n "$victim" ]] || { echo "FAILED: training did not start or rank 1 was not found"; cat "$work/log"; exit 1; }
kill -9 "$victim"
start=$SECONDS

# Bounded: the job must be over well within 60 s.
for _ in $(seq 1 600); do
  kill -0 "$job" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$job" 2>/dev/null; then
  echo "FAILED: the job still runs $((SECONDS - start)) s after rank 1 died (rank 0 hangs)"
  cat "$work/log"
  exit 1
fi
wait "$job"
rc=$?
echo "the job ended $((SECONDS - start)) s after rank 1 was killed, exit code $rc"
(( rc != 0 )) || { echo "FAILED: exit code 0 after a rank died"; cat "$work/log"; exit 1; }
grep -qiE 'rank 1' "$work/log" || { echo "FAILED: no message names rank 1"; cat "$work/log"; exit 1; }
grep -iE 'rank 1' "$work/log" | head -3
