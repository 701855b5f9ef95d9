#!/usr/bin/env python3
"""Whole-model CPU benchmarks, ours and PyTorch's interleaved step by step; prints the table with each ratio's spread.

    python3 benchmarks/peers/compare_model_benchmarks.py BUILD_DIR [--filter REGEX] [--rounds N] [--warmup-rounds N]
        [--layouts nchw,channels_last] [--skip-pytorch] [--markdown out.md] [--json raw.json]

For each case (BM_model_<eval|train_step>/<model>/<size>) one step server per side is started, each in its own
process (so its peak memory is the case's own): BUILD_DIR/benchmarks/bench_models --serve CASE, and
benchmarks/peers/bench_models_pytorch.py --serve CASE --layout L for each PyTorch layout. Each builds its model and waits. Then
every round asks each server for one step in turn, one at a time (the others wait idle on a pipe), with the first
server rotating from round to round, and a short pause after each step so that the last one's spinning OpenMP
threads are gone. A burst of load on a shared machine thus falls on neighbouring steps of both sides, and each round
gives one per-pair ratio pytorch_s / ours_s (> 1: we are faster).

Reported per case: each side's median step; PyTorch's layout with the lower median, against which the ratios are
taken; the ratio's median, interquartile range (q1-q3) and min-max over the rounds; peak memory (our max RSS and our
host allocator's peak in-use bytes; PyTorch's max RSS, which includes ~150-250 MB of the torch import). The load
average is recorded before every case. Any Python 3 runs this script; PyTorch runs under Debian's /usr/bin/python3
(--python to change).
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LAYOUTS = ("nchw", "channels_last")


def list_cases(binary, name_filter):
    """Our case names, e.g. 'BM_model_eval/deeplab-v1-largefov/321' or '.../321/batch:8', that match name_filter."""
    proc = subprocess.run([binary, "--benchmark_list_tests=true"], stdout=subprocess.PIPE, universal_newlines=True,
                          check=True)
    names = []
    for line in proc.stdout.split():
        name = line.split("/iterations:")[0]
        if name not in names and re.search(name_filter, name):
            names.append(name)
    return names


class StepServer:
    """One side's process for one case, driven over its stdin/stdout (see bench_models.cpp's serve())."""

    def __init__(self, label, cmd):
        self.label = label
        print("starting " + " ".join(cmd), file=sys.stderr, flush=True)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
        self.times = []

    def _expect(self, word):
        line = self.proc.stdout.readline()
        if not line.startswith(word):
            raise RuntimeError("%s: expected %r, got %r (exit status %s)" % (self.label, word, line.strip(),
                                                                              self.proc.poll()))
        return line[len(word):].strip()

    def wait_ready(self):
        self._expect("ready")

    def step(self):
        self.proc.stdin.write("step\n")
        self.proc.stdin.flush()
        return float(self._expect("step"))

    def finish(self):
        """Ends the server; returns its memory figures."""
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        memory = json.loads(self._expect("done"))
        self.proc.wait()
        return memory

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def quartiles(values):
    """(q1, median, q3); statistics.quantiles needs two values at least."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def run_case(name, args, binary):
    """Interleaves the servers of one case; returns {side: {'times': [...], 'memory': {...}}}."""
    servers = [StepServer("ours", [binary, "--serve", name])]
    if not args.skip_pytorch:
        for layout in args.layouts.split(","):
            servers.append(StepServer(layout, [args.python, os.path.join(HERE, "bench_models_pytorch.py"),
                                               "--serve", name, "--layout", layout]))
    try:
        for s in servers:  # one at a time: building a model is not timed, but it would slow a neighbour's steps
            s.wait_ready()
        for r in range(args.warmup_rounds + args.rounds):
            this_round = {}
            for s in servers[r % len(servers):] + servers[:r % len(servers)]:
                this_round[s.label] = s.step()
                time.sleep(args.pause)
            timed = r >= args.warmup_rounds
            if timed:
                for s in servers:
                    s.times.append(this_round[s.label])
            which = "round %d/%d" % (r + 1 - args.warmup_rounds, args.rounds) if timed else "warm-up"
            print("%s %s: %s" % (name, which, ", ".join("%s %.3f s" % (s.label, this_round[s.label]) for s in servers)),
                  file=sys.stderr, flush=True)
        return {s.label: {"times": s.times, "memory": s.finish()} for s in servers}
    except (RuntimeError, ValueError, OSError) as e:
        print("warning: %s failed: %s" % (name, e), file=sys.stderr, flush=True)
        return None
    finally:
        for s in servers:
            s.kill()


def summarise(name, result):
    """One table row's figures for a case's result (None when it failed)."""
    prefix, model, size = name.split("/")[:3]
    batch = name.split("/batch:")[1] if "/batch:" in name else None
    row = {"case": name, "model": "%s %s" % (model, size) + (" batch %s" % batch if batch else ""),
           "pass": "eval" if prefix == "BM_model_eval" else "train step"}
    if not result:
        return row
    ours = result["ours"]
    row.update(ours_s=statistics.median(ours["times"]), ours_rss_mb=ours["memory"]["max_rss_mb"],
               ours_alloc_mb=ours["memory"]["alloc_peak_mb"])
    peers = {k: v for k, v in result.items() if k != "ours"}
    if peers:
        layout = min(peers, key=lambda k: statistics.median(peers[k]["times"]))
        peer = peers[layout]
        ratios = [p / o for p, o in zip(peer["times"], ours["times"])]
        q1, median, q3 = quartiles(ratios)
        row.update(pytorch_s=statistics.median(peer["times"]), layout=layout, ratio=median, ratio_q1=q1, ratio_q3=q3,
                   ratio_min=min(ratios), ratio_max=max(ratios), pytorch_rss_mb=peer["memory"]["max_rss_mb"])
    return row


def fmt(value, digits=2):
    return "-" if value is None else "%.*f" % (digits, value)


HEADER = ["model", "pass", "ours s", "PyTorch s", "PyTorch layout", "ratio (median)", "ratio q1-q3", "ratio min-max",
          "ours peak RSS MB", "ours alloc peak MB", "PyTorch peak RSS MB"]


def table_cells(row):
    g = row.get
    spread = lambda a, b: "%s-%s" % (fmt(g(a)), fmt(g(b))) if g(a) is not None else "-"
    return [row["model"], row["pass"], fmt(g("ours_s"), 3), fmt(g("pytorch_s"), 3), g("layout") or "-",
            fmt(g("ratio")), spread("ratio_q1", "ratio_q3"), spread("ratio_min", "ratio_max"),
            fmt(g("ours_rss_mb"), 0), fmt(g("ours_alloc_mb"), 0), fmt(g("pytorch_rss_mb"), 0)]


def text_table(rows):
    cells = [table_cells(r) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(HEADER, *cells)]
    line = lambda cs: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                                for i, (c, w) in enumerate(zip(cs, widths)))
    return "\n".join([line(HEADER), line(["-" * w for w in widths])] + [line(c) for c in cells])


def markdown_table(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|---|---|" + "|".join(["---:"] * (len(HEADER) - 2)) + "|"]
    out += ["| " + " | ".join(table_cells(r)) + " |" for r in rows]
    return "\n".join(out)


def cpu_model():
    try:
        for line in subprocess.run(["lscpu"], stdout=subprocess.PIPE, universal_newlines=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def torch_versions(python):
    proc = subprocess.run([python, "-c", "import torch, torchvision; print(torch.__version__, torchvision.__version__)"],
                          stdout=subprocess.PIPE, universal_newlines=True)
    return proc.stdout.split() if proc.returncode == 0 else ["?", "?"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--filter", default="", help="regular expression on the case names (BM_model_<pass>/<model>/<size>)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (one step of every server each) per case")
    parser.add_argument("--warmup-rounds", type=int, default=2, help="untimed rounds first (caches, allocators)")
    parser.add_argument("--pause", type=float, default=0.1, help="seconds of quiet after each step")
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help="PyTorch's layouts to run: nchw,channels_last")
    parser.add_argument("--skip-pytorch", action="store_true", help="only our side")
    parser.add_argument("--python", default="/usr/bin/python3", help="a Python with torch and torchvision")
    parser.add_argument("--markdown", help="also write the table as markdown to this path")
    parser.add_argument("--json", help="also write every step time and memory figure to this path")
    args = parser.parse_args()
    if args.rounds < 1 or args.warmup_rounds < 0 or args.pause < 0:
        sys.exit("--rounds must be >= 1, --warmup-rounds and --pause >= 0")
    for layout in args.layouts.split(","):
        if layout not in LAYOUTS:
            sys.exit("--layouts: unknown layout %r (%s)" % (layout, ", ".join(LAYOUTS)))

    binary = os.path.join(args.build_dir, "benchmarks", "bench_models")
    if not os.access(binary, os.X_OK):
        sys.exit("no %s: build it first (cmake --build %s --target bench_models)" % (binary, args.build_dir))
    names = list_cases(binary, args.filter)
    if not names:
        sys.exit("no cases match %r" % args.filter)

    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    rows, raw, loads = [], {}, []
    for name in names:
        loads.append(load_average())
        raw[name] = run_case(name, args, binary)
        rows.append(summarise(name, raw[name]))
    loads.append(load_average())

    ratios = [r["ratio"] for r in rows if r.get("ratio")]
    versions = torch_versions(args.python) if not args.skip_pytorch else ["-", "-"]
    header = [
        "Whole-model CPU benchmarks, %s" % started,
        "machine: %s, %d CPUs (%s); batch 1 unless the case says, f32, 2 threads on both sides" % (
            cpu_model(), os.cpu_count(), platform.node()),
        "ours and PyTorch %s (torchvision %s) interleaved step by step: %d warm-up and %d timed rounds per case, "
        "PyTorch layouts %s" % (versions[0], versions[1], args.warmup_rounds, args.rounds, args.layouts),
        "load average (1/5/15 min) before each case and at the end: " + "; ".join(loads),
        "ratio = pytorch_s / ours_s per round (> 1: we are faster): median, interquartile range, min-max",
    ]
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        header.append("geometric mean of the median ratios over %d cases: %.2f (min %.2f, max %.2f)" % (
            len(ratios), geo, min(ratios), max(ratios)))

    print("\n".join(header) + "\n")
    print(text_table(rows))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("# " + header[0] + "\n\n" + "\n".join("- " + h for h in header[1:]) + "\n\n")
            f.write(markdown_table(rows) + "\n")
        print("\nwrote " + args.markdown, file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "cases": raw}, f, indent=1, sort_keys=True)
        print("wrote " + args.json, file=sys.stderr)


if __name__ == "__main__":
    main()
