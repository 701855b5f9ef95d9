#!/usr/bin/env python3
"""Runs benchmarks/bench_models (ours) and tools/bench_models_pytorch.py case by case and prints the whole-model table.

    python3 tools/compare_model_benchmarks.py BUILD_DIR [--filter REGEX] [--repetitions N] [--markdown out.md]
                                              [--pytorch-json FILE] [--save-pytorch-json FILE] [--skip-pytorch]

BUILD_DIR holds a built BUILD_DIR/benchmarks/bench_models. Every case runs in its own process on both sides (so peak
memory is the case's own), ours then PyTorch's, case after case, so that a burst of load elsewhere on a shared
machine hits both sides of a row alike. Times are medians of single steps after warm-up. Columns: ours s, PyTorch s
(best of NCHW / channels_last), ratio = pytorch_s / ours_s (> 1: we are faster), peak memory: our max RSS and our
host allocator's peak in-use bytes, PyTorch's max RSS (which includes ~150-250 MB of the torch import itself).
Any Python 3 runs this script; PyTorch runs under Debian's /usr/bin/python3 (--python to change).
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TIME_UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def base_name(run_name):
    """'BM_model_eval/deeplab-v1-largefov/321/iterations:1/real_time' -> 'BM_model_eval/deeplab-v1-largefov/321'."""
    return "/".join(p for p in run_name.split("/")
                    if p not in ("real_time", "process_time", "manual_time")
                    and not p.startswith(("min_time:", "iterations:", "repeats:", "threads:")))


def escape(name):
    """Escapes a case name for Google Benchmark's POSIX regex (where Python's re.escape of '-' is undefined)."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", name)


def list_ours(binary, name_filter):
    proc = subprocess.run([binary, "--benchmark_list_tests=true"], stdout=subprocess.PIPE, universal_newlines=True,
                          check=True)
    names = []
    for line in proc.stdout.split():
        name = base_name(line)
        if name not in names and re.search(name_filter, name):
            names.append(name)
    return names


def run_ours(binary, name, repetitions):
    """One case in its own process: median seconds over single-step repetitions, peak memory counters."""
    cmd = [binary, "--benchmark_format=json", "--benchmark_repetitions=%d" % repetitions,
           "--benchmark_filter=^" + escape(name) + "/"]
    print("running " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        print("warning: %s exited with %d" % (binary, proc.returncode), file=sys.stderr)
        return None, {}
    data = json.loads(proc.stdout)
    runs = [b for b in data.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]
    if not runs:
        return None, data.get("context", {})
    times = sorted(b["real_time"] * TIME_UNIT_S[b.get("time_unit", "ns")] for b in runs)
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 else 0.5 * (times[mid - 1] + times[mid])
    result = {"s": median, "min_s": times[0], "times_s": times,
              "max_rss_mb": max(b.get("max_rss_MB", 0) for b in runs),
              "alloc_peak_mb": max(b.get("alloc_peak_MB", 0) for b in runs)}
    return result, data.get("context", {})


def run_pytorch(python, name, repeats):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = tmp.name
    cmd = [python, os.path.join(HERE, "bench_models_pytorch.py"), "--json", out, "--filter", "^" + escape(name) + "$"]
    if repeats:
        cmd += ["--repeats", str(repeats)]
    print("running " + " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    return data


def fmt(value, digits=2):
    return "-" if value is None else "%.*f" % (digits, value)


HEADER = ["model", "pass", "ours s", "PyTorch s", "PyTorch layout", "ratio", "ours peak RSS MB",
          "ours alloc peak MB", "PyTorch peak RSS MB"]


def build_rows(ours, peers):
    rows, ratios = [], []
    for name, r in ours.items():
        prefix, model, size = name.split("/")
        which = "eval" if prefix == "BM_model_eval" else "train step"
        peer = peers.get(name)
        pt_s = peer["s"] if peer else None
        ratio = pt_s / r["s"] if pt_s and r else None
        if ratio:
            ratios.append(ratio)
        rows.append(["%s %s" % (model, size), which, fmt(r["s"] if r else None, 3), fmt(pt_s, 3),
                     peer["layout"] if peer else "-", fmt(ratio), fmt(r["max_rss_mb"] if r else None, 0),
                     fmt(r["alloc_peak_mb"] if r else None, 0), fmt(peer["peak_rss_mb"] if peer else None, 0)])
    return rows, ratios


def text_table(rows):
    widths = [max(len(str(x)) for x in col) for col in zip(HEADER, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(HEADER), line(["-" * w for w in widths])] + [line(r) for r in rows])


def markdown_table(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|---|---|" + "|".join(["---:"] * (len(HEADER) - 2)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--filter", default="", help="regular expression on the case names (BM_model_<pass>/<model>/<size>)")
    parser.add_argument("--repetitions", type=int, default=5, help="timed single steps per case on our side")
    parser.add_argument("--pytorch-repeats", type=int, default=0, help="timed steps per PyTorch case (default: per model)")
    parser.add_argument("--pytorch-json", help="reuse this bench_models_pytorch.py output instead of running PyTorch")
    parser.add_argument("--save-pytorch-json", help="keep PyTorch's results here")
    parser.add_argument("--skip-pytorch", action="store_true", help="only our side")
    parser.add_argument("--python", default="/usr/bin/python3", help="a Python with torch and torchvision")
    parser.add_argument("--markdown", help="also write the table as markdown to this path")
    args = parser.parse_args()

    binary = os.path.join(args.build_dir, "benchmarks", "bench_models")
    if not os.access(binary, os.X_OK):
        sys.exit("no %s: build it first (cmake --build %s --target bench_models)" % (binary, args.build_dir))
    names = list_ours(binary, args.filter)
    if not names:
        sys.exit("no cases match %r" % args.filter)

    reused = None
    if args.pytorch_json:
        with open(args.pytorch_json) as f:
            reused = json.load(f)
    ours, peers, context, meta, loads = {}, {}, {}, {}, []
    for name in names:
        loads.append(load_average())
        r, ctx = run_ours(binary, name, args.repetitions)
        ours[name] = r
        context = context or ctx
        if args.skip_pytorch:
            continue
        data = reused if reused else run_pytorch(args.python, name, args.pytorch_repeats)
        meta = meta or data.get("meta", {})
        if name in data.get("cases", {}):
            peers[name] = data["cases"][name]
    loads.append(load_average())
    if args.save_pytorch_json and peers:
        with open(args.save_pytorch_json, "w") as f:
            json.dump({"meta": meta, "cases": peers}, f, indent=1, sort_keys=True)

    rows, ratios = build_rows(ours, peers)
    header = [
        "Whole-model CPU benchmarks, %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine: %s, %d CPUs (%s); batch 1, f32, %s threads on both sides" % (
            cpu_model(), os.cpu_count(), context.get("host_name", platform.node()), context.get("threads", "?")),
        "ours: median of %d single steps after a warm-up step; PyTorch %s (torchvision %s): median of single steps "
        "after warm-up, best of NCHW / channels_last" % (args.repetitions, meta.get("torch", "?"),
                                                        meta.get("torchvision", "?")),
        "load average (1/5/15 min) before each case and at the end: " + "; ".join(loads),
        "ratio = pytorch_s / ours_s (> 1: we are faster)",
    ]
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        header.append("geometric mean ratio over %d cases: %.2f (min %.2f, max %.2f)" % (
            len(ratios), geo, min(ratios), max(ratios)))

    print("\n".join(header) + "\n")
    print(text_table(rows))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("# " + header[0] + "\n\n" + "\n".join("- " + h for h in header[1:]) + "\n\n")
            f.write(markdown_table(rows) + "\n")
        print("\nwrote " + args.markdown, file=sys.stderr)


if __name__ == "__main__":
    main()
