#!/usr/bin/env python3
"""Scaling of data-parallel training on one machine: 1 rank x T threads against T ranks x 1 thread.

Runs `atrous train` on generated data in alternation (one run of each configuration per round, so the machine's
load drifts over all of them alike) and prints the median images/s of each, its ratio to the one-process run, the
gradient bytes all-reduced per step and the time the reduction added after backward. The global batch is the same
in every configuration. Also runs the ceiling: T independent one-thread processes side by side (what T ranks could
reach if the all-reduce cost nothing).

    python3 benchmarks/peers/compare_data_parallel.py --atrous build/atrous --rounds 3
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def train_args(a, batch, out_dir):
    return [a.atrous, "train", "--model", a.model, "--dataset", "synthetic", "--classes", "4",
            "--crop-size", str(a.crop_size), "--batch-size", str(batch), "--max-iterations", str(a.steps),
            "--validate-every", "0", "--checkpoint-every", "0", "--log-every", str(a.steps), "--out-dir", out_dir]


def run(cmd, env_threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(env_threads))
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout[-3000:]))
    return p.stdout


def images_per_second(output):
    m = re.search(r"([0-9.]+) images/s training", output)
    if not m:
        sys.exit("no 'images/s training' in the output:\n" + output[-3000:])
    return float(m.group(1))


def reduction_figures(output):
    m = re.search(r"([0-9.]+) MB of gradients all-reduced per step by each rank in (\d+) buckets, ([0-9.]+) of them "
                  r"started during backward; the reduction added ([0-9.]+) ms", output)
    return (float(m.group(1)), int(m.group(2)), float(m.group(3)), float(m.group(4))) if m else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atrous", default="build/atrous")
    p.add_argument("--model", default="resnet50-deeplabv3")
    p.add_argument("--ranks", type=int, default=2, help="ranks (and threads of the one-process run)")
    p.add_argument("--batch-per-rank", type=int, default=2)
    p.add_argument("--crop-size", type=int, default=129)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()

    n, b = a.ranks, a.batch_per_rank
    tmp = tempfile.mkdtemp(prefix="atrous-scaling-")
    mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(n), "-x", "OMP_NUM_THREADS=1"]
    configs = {
        "1 rank x %d threads, batch %d" % (n, n * b): lambda d: run(train_args(a, n * b, d), n),
        "%d ranks x 1 thread, --bind-to none, sync BN" % n:
            lambda d: run(mpirun + ["--bind-to", "none"] + train_args(a, b, d) + ["--bn-mode", "sync"], 1),
        "%d ranks x 1 thread, default binding, sync BN" % n:
            lambda d: run(mpirun + train_args(a, b, d) + ["--bn-mode", "sync"], 1),
    }
    results = {name: [] for name in configs}
    reductions = {name: [] for name in configs}
    ceiling = []
    loads = [os.getloadavg()[0]]
    for r in range(a.rounds):
        for i, (name, fn) in enumerate(configs.items()):
            out = fn(os.path.join(tmp, "r%d_%d" % (r, i)))
            results[name].append(images_per_second(out))
            red = reduction_figures(out)
            if red:
                reductions[name].append(red)
        # the ceiling: n independent one-thread processes of batch b at once
        procs = [subprocess.Popen(train_args(a, b, os.path.join(tmp, "c%d_%d" % (r, k))),
                                  env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for k in range(n)]
        ceiling.append(sum(images_per_second(pr.communicate()[0]) for pr in procs))
        loads.append(os.getloadavg()[0])

    print("%s, %d CPUs; load average (1 min) during the runs %.2f-%.2f; %s, crop %d, global batch %d, %d steps, "
          "%d rounds" % (cpu_name(), os.cpu_count(), min(loads), max(loads), a.model, a.crop_size, n * b, a.steps,
                         a.rounds))
    base = statistics.median(next(iter(results.values())))
    print("| run | images/s (median; all) | ratio to 1 process | reduced per step | buckets started in backward "
          "| ms added after backward (median) |")
    print("|---|---|---|---|---|---|")
    for name, v in results.items():
        red = reductions[name]
        mb = "%.1f MB in %d buckets" % (red[0][0], red[0][1]) if red else "-"
        started = "%.1f" % statistics.median(x[2] for x in red) if red else "-"
        added = "%.1f" % statistics.median(x[3] for x in red) if red else "-"
        print("| %s | %.2f (%s) | %.2f | %s | %s | %s |" % (name, statistics.median(v), ", ".join("%.2f" % x for x in v),
                                                       statistics.median(v) / base, mb, started, added))
    print("| ceiling: %d independent 1-thread processes, batch %d each | %.2f (%s) | %.2f | - | - | - |" %
          (n, b, statistics.median(ceiling), ", ".join("%.2f" % x for x in ceiling),
           statistics.median(ceiling) / base))


if __name__ == "__main__":
    main()
