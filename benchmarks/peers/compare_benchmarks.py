#!/usr/bin/env python3
"""Runs our Google Benchmark binaries and benchmarks/peers/bench_pytorch.py on the same shapes and prints the side-by-side table.

    python3 benchmarks/peers/compare_benchmarks.py BUILD_DIR [--repetitions 5] [--markdown results.md] [--filter REGEX]
                                        [--statistic median|min] [--pytorch-json FILE] [--save-pytorch-json FILE]

BUILD_DIR is a configured and built tree (benchmarks in BUILD_DIR/benchmarks/bench_*). Columns: our time and
PyTorch's (CPU, 2 threads, best of NCHW / channels_last), ratio = pytorch_ms / ours_ms (> 1 means we are faster),
and for convolutions our GFLOP/s and its share of the GEMM peak measured in the same run (BM_gemm_peak, best of
its repetitions). Any Python 3
runs this script; PyTorch runs under Debian's /usr/bin/python3 (--python to change). Timings on a shared machine move
by 15-20%: compare ratios from one run, not absolute times across runs.
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

# Our cases whose PyTorch counterpart is timed under another name (the op-level variants time the same work as the
# kernel-level case, plus argument checks and allocation). Prefix -> replacement.
PYTORCH_NAME_MAP = [
    ("BM_batch_norm_train_forward_op/", "BM_batch_norm_train_forward/"),
    ("BM_max_pool2d_forward_op/", "BM_max_pool2d_forward/"),
]
# Our cases with no PyTorch peer; they feed the header instead of the table.
NO_PEER = re.compile(r"^BM_gemm_")
GEMM_PEAK = re.compile(r"^BM_gemm_peak(/|$)")

TIME_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def pytorch_name(ours):
    for prefix, replacement in PYTORCH_NAME_MAP:
        if ours.startswith(prefix):
            return replacement + ours[len(prefix):]
    return ours


def base_name(run_name):
    """'BM_conv_forward/fc6_r12_41/real_time' -> 'BM_conv_forward/fc6_r12_41' (drops Google Benchmark's suffixes)."""
    parts = [p for p in run_name.split("/") if p not in ("real_time", "process_time", "manual_time")
             and not p.startswith(("min_time:", "iterations:", "repeats:", "threads:"))]
    return "/".join(parts)


def find_binaries(build_dir):
    folder = os.path.join(build_dir, "benchmarks")
    if not os.path.isdir(folder):
        sys.exit("no %s: build the benchmarks first (cmake --build %s --target bench_conv2d ...)" % (folder, build_dir))
    found = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.startswith("bench_") and os.access(os.path.join(folder, f), os.X_OK)
                   and os.path.isfile(os.path.join(folder, f)))
    if not found:
        sys.exit("no bench_* executables in %s" % folder)
    return found


def run_ours(binary, repetitions, name_filter, statistic, min_time):
    """Runs one benchmark binary; returns {case: {'ms', 'counters', 'statistic'}} in the binary's order."""
    cmd = [binary, "--benchmark_format=json", "--benchmark_repetitions=%d" % repetitions,
           "--benchmark_report_aggregates_only=true"]
    if name_filter:
        cmd.append("--benchmark_filter=" + name_filter)
    if min_time:
        cmd.append("--benchmark_min_time=%g" % min_time)
    print("running " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
    if proc.returncode != 0:
        print("warning: %s exited with %d" % (binary, proc.returncode), file=sys.stderr)
    if not proc.stdout.strip():
        return {}, {}
    data = json.loads(proc.stdout)
    by_stat = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") != "aggregate" and repetitions > 1:
            continue
        stat = b.get("aggregate_name", "median")
        name = base_name(b.get("run_name", b["name"]))
        ms = b["real_time"] * TIME_UNIT_MS[b.get("time_unit", "ns")]
        counters = {k: v for k, v in b.items() if isinstance(v, (int, float)) and ("/s" in k or k.endswith("_MB"))}
        by_stat.setdefault(name, {})[stat] = {"ms": ms, "counters": counters}
    results = {}
    for name, stats in by_stat.items():
        chosen = statistic if statistic in stats else "median" if "median" in stats else next(iter(stats))
        results[name] = dict(stats[chosen], statistic=chosen)
    return results, data.get("context", {})


def measure_gemm_peak(build_dir, repetitions):
    """The best GFLOP/s of BM_gemm_peak over its repetitions: on a shared machine the median undercounts the peak
    the hardware reaches, and "% of GEMM peak" must not exceed 100% just because the peak run was interrupted."""
    binary = os.path.join(build_dir, "benchmarks", "bench_conv2d")
    if not os.access(binary, os.X_OK):
        return None
    cmd = [binary, "--benchmark_format=json", "--benchmark_filter=^BM_gemm_peak",
           "--benchmark_repetitions=%d" % max(repetitions, 3)]
    print("running " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
    try:
        runs = json.loads(proc.stdout).get("benchmarks", [])
    except ValueError:
        return None
    rates = [b["GFLOP/s"] for b in runs if b.get("run_type") == "iteration" and "GFLOP/s" in b]
    return max(rates) if rates else None


def run_pytorch(python, names, min_time, save_path):
    regex = "^(" + "|".join(re.escape(n) for n in names) + ")$"
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = save_path or tmp.name
    cmd = [python, os.path.join(HERE, "bench_pytorch.py"), "--json", out, "--min-time", str(min_time),
           "--filter", regex]
    print("running %s benchmarks/peers/bench_pytorch.py on %d cases" % (python, len(names)), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)
    with open(out) as f:
        data = json.load(f)
    if not save_path:
        os.unlink(out)
    return data


def fmt(value, digits=2):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return "%.*f" % (digits, value)


def build_rows(ours, peers, gemm_gflops, statistic):
    rows, ratios = [], []
    for name, r in ours.items():
        if NO_PEER.match(name):
            continue
        peer = peers.get(pytorch_name(name))
        pt_ms = None
        layout = "-"
        if peer:
            use_min = statistic == "min"
            pt_ms = peer["min_ms"] if use_min and "min_ms" in peer else peer["ms"]
            layout = peer.get("min_layout" if use_min else "layout", "-")
        ratio = pt_ms / r["ms"] if pt_ms else None
        if ratio:
            ratios.append(ratio)
        gflops = r["counters"].get("GFLOP/s")
        if gflops is None and peer and peer.get("flops"):
            gflops = peer["flops"] / (r["ms"] * 1e-3) / 1e9
        peak_pct = 100.0 * gflops / gemm_gflops if gflops and gemm_gflops else None
        mark = "" if r["statistic"] == statistic else " (%s)" % r["statistic"]
        rows.append([name + mark, fmt(r["ms"], 3), fmt(pt_ms, 3), layout, fmt(ratio), fmt(gflops, 1),
                     fmt(peak_pct, 0), fmt(r["counters"].get("GB/s"), 1)])
    return rows, ratios


HEADER = ["case", "ours ms", "PyTorch ms", "PyTorch layout", "ratio", "ours GFLOP/s", "% GEMM peak", "ours GB/s"]


def text_table(rows):
    widths = [max(len(str(x)) for x in col) for col in zip(HEADER, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(HEADER), line(["-" * w for w in widths])] + [line(r) for r in rows])


def markdown_table(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] + ["---:"] * (len(HEADER) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--repetitions", type=int, default=5, help="Google Benchmark repetitions per case")
    parser.add_argument("--statistic", choices=("median", "min"), default="median",
                        help="which repetition statistic to compare (min is steadier on a busy machine)")
    parser.add_argument("--filter", default="", help="regular expression on our benchmark names")
    parser.add_argument("--benchmark-min-time", type=float, default=0.0, help="passed to Google Benchmark")
    parser.add_argument("--pytorch-min-time", type=float, default=0.5, help="seconds of repeats per PyTorch case")
    parser.add_argument("--pytorch-json", help="reuse this bench_pytorch.py output instead of running PyTorch")
    parser.add_argument("--save-pytorch-json", help="keep PyTorch's results here")
    parser.add_argument("--python", default="/usr/bin/python3", help="a Python with torch, for bench_pytorch.py")
    parser.add_argument("--markdown", help="also write the table as markdown to this path")
    args = parser.parse_args()

    ours, context = {}, {}
    for binary in find_binaries(args.build_dir):
        results, ctx = run_ours(binary, args.repetitions, args.filter, args.statistic, args.benchmark_min_time)
        ours.update(results)
        context = context or ctx
    if not ours:
        sys.exit("no benchmark results (filter %r)" % args.filter)

    wanted = sorted({pytorch_name(n) for n in ours if not NO_PEER.match(n)})
    if args.pytorch_json:
        with open(args.pytorch_json) as f:
            pytorch = json.load(f)
    else:
        pytorch = run_pytorch(args.python, wanted, args.pytorch_min_time, args.save_pytorch_json)
    peers = pytorch.get("cases", {})

    gemm_gflops = measure_gemm_peak(args.build_dir, args.repetitions)
    rows, ratios = build_rows(ours, peers, gemm_gflops, args.statistic)

    meta = pytorch.get("meta", {})
    header = [
        "Side-by-side CPU benchmarks, %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine: %s, %s CPUs (%s); ours: %s of %d repetitions; PyTorch %s, %s threads, %s of repeats, best layout" % (
            context.get("host_name", platform.node()), context.get("num_cpus", os.cpu_count()),
            platform.processor() or platform.machine(), args.statistic, args.repetitions, meta.get("torch", "?"),
            meta.get("threads", "?"), args.statistic),
        "GEMM peak (BM_gemm_peak, best repetition): %s GFLOP/s" % fmt(gemm_gflops, 1),
        "ratio = pytorch_ms / ours_ms (> 1: we are faster)",
    ]
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        header.append("geometric mean ratio over %d cases: %.2f (min %.2f, max %.2f)" % (
            len(ratios), geo, min(ratios), max(ratios)))
    missing = [n for n in ours if not NO_PEER.match(n) and pytorch_name(n) not in peers]
    if missing:
        header.append("no PyTorch counterpart: " + ", ".join(missing))

    print("\n".join(header) + "\n")
    print(text_table(rows))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("# " + header[0] + "\n\n" + "\n".join("- " + h for h in header[1:]) + "\n\n")
            f.write(markdown_table(rows) + "\n")
        print("\nwrote " + args.markdown, file=sys.stderr)


if __name__ == "__main__":
    main()
