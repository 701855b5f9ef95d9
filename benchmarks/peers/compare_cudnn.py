#!/usr/bin/env python3
"""Turns bench_cuda_conv's Google Benchmark JSON into benchmarks/results/<device>.json and a markdown table.

One record per case: shape, pass, dtype, ours_ms, cudnn_ms (the faster of cuDNN's NCHW and NHWC runs, each with the
best algorithm cudnnFind* reported), ratio_vs_cudnn = cudnn_ms / ours_ms (> 1: we are faster), and for
bandwidth-bound cases GB/s and the percentage of a device-to-device copy's bandwidth measured in the same run.
With --benchmark_repetitions the fastest repetition of each benchmark counts.

usage: compare_cudnn.py BENCH_JSON [BENCH_JSON ...] [--out-dir benchmarks/results] [--device-name NAME]
(several files: runs of the same binary with different --benchmark_filter, merged)
"""
import argparse
import json
import os
import re
import statistics
import sys


def to_ms(run):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[run.get("time_unit", "ns")]
    return run["real_time"] * scale


def load_runs(paths):
    context, best = {}, {}
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            print(f"skipping {path}: {e}", file=sys.stderr)  # a run cut short leaves an unfinished file
            continue
        context = context or data.get("context", {})
        collect_best(data, best)
    return context, best


# Segments Google Benchmark appends to a registered name: "min_time:0.200", "iterations:20", "manual_time", ...
TIMING_SUFFIXES = ("manual_time", "real_time", "process_time")


def case_name(run_name):
    """'conv/fc6/fwd/ours/min_time:0.200/manual_time' -> 'conv/fc6/fwd/ours' (the name as registered)."""
    return "/".join(p for p in run_name.split("/") if ":" not in p and p not in TIMING_SUFFIXES)


def collect_best(data, best):
    for run in data.get("benchmarks", []):
        if run.get("run_type", "iteration") != "iteration" or run.get("error_occurred"):
            continue
        name = case_name(run.get("run_name", run["name"]))
        if name not in best or to_ms(run) < to_ms(best[name]):
            best[name] = run


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "unknown_device"


def build_records(runs):
    records = []
    copy = runs.get("bw/copy/1073741824") or next((r for n, r in runs.items() if n.startswith("bw/copy")), None)
    copy_gbps = copy["bytes"] / (to_ms(copy) * 1e6) if copy else None

    def gbps(run):
        return run["bytes"] / (to_ms(run) * 1e6) if run and "bytes" in run else None

    groups = {}
    for name, run in runs.items():
        parts = name.split("/")
        if parts[0] in ("conv", "conv_tf32", "bn") and len(parts) == 4:
            groups.setdefault((parts[0], parts[1], parts[2]), {})[parts[3]] = run
        elif parts[0] == "bw" and parts[1] != "copy":
            groups.setdefault(("bw", parts[1], parts[2]), {})["ours"] = run
    for (group, case, pass_name), impls in sorted(groups.items()):
        ours = impls.get("ours")
        if ours is None:
            continue
        kind = "conv" if group.startswith("conv") else group
        dtype = "tf32" if group.endswith("_tf32") else "fp32"
        peers = {k: v for k, v in impls.items() if k.startswith("cudnn")}
        best_peer = min(peers.items(), key=lambda kv: to_ms(kv[1])) if peers else None
        record = {
            "kind": kind,
            "case": case,
            "shape": ours.get("label", case) if kind == "conv" else case,
            "pass": pass_name,
            "dtype": dtype,
            "ours_ms": round(to_ms(ours), 4),
            "cudnn_ms": round(to_ms(best_peer[1]), 4) if best_peer else None,
            "cudnn_layout": best_peer[0].replace("cudnn_", "") if best_peer else None,
            "cudnn_algo": best_peer[1].get("label", "").split(" ")[-1] if best_peer and kind == "conv" else None,
        }
        for layout, run in peers.items():
            record[f"{layout}_ms"] = round(to_ms(run), 4)
        record["ratio_vs_cudnn"] = round(record["cudnn_ms"] / record["ours_ms"], 3) if best_peer else None
        if kind == "conv":
            record["ours_tflops"] = round(ours["flops"] / (to_ms(ours) * 1e9), 2)
        else:
            record["ours_gbps"] = round(gbps(ours), 1)
            if copy_gbps:
                record["pct_of_copy_bandwidth"] = round(100.0 * gbps(ours) / copy_gbps, 1)
        records.append(record)
    return records, copy_gbps


def markdown(context, records, copy_gbps):
    lines = [
        f"# CUDA kernels vs cuDNN on {context.get('device', '?')}",
        "",
        f"measured {context.get('date', '?')} by `{os.path.basename(context.get('executable', 'bench_cuda_conv'))}`; "
        f"host CPU: {context.get('num_cpus', '?')} cores",
        "",
        f"driver {context.get('cuda_driver', '?')}, CUDA runtime {context.get('cuda_runtime', '?')}, "
        f"cuDNN {context.get('cudnn', '?')}, SMs {context.get('sm_count', '?')}; "
        f"device-to-device copy {copy_gbps:.0f} GB/s (read + write)" if copy_gbps else "",
        "",
        "ratio_vs_cudnn = cudnn_ms / ours_ms (> 1: ours faster). cuDNN: best algorithm from cudnnFind*, faster of "
        "NCHW and NHWC; fp32 rows restrict cuDNN to FMA math (full fp32), tf32 rows allow its tensor-op math.",
        "",
        "| kind | case | pass | dtype | ours ms | cuDNN ms (layout) | ratio | ours TFLOP/s or GB/s (% copy) |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in records:
        peer = f"{r['cudnn_ms']:.3f} ({r['cudnn_layout']})" if r["cudnn_ms"] is not None else "-"
        ratio = f"{r['ratio_vs_cudnn']:.2f}" if r["ratio_vs_cudnn"] is not None else "-"
        if r["kind"] == "conv":
            rate = f"{r['ours_tflops']:.2f} TFLOP/s"
        else:
            pct = r.get("pct_of_copy_bandwidth")
            rate = f"{r['ours_gbps']:.0f} GB/s" + (f" ({pct:.0f}%)" if pct is not None else "")
        lines.append(f"| {r['kind']} | {r['case']} | {r['pass']} | {r['dtype']} | {r['ours_ms']:.3f} | {peer} | "
                     f"{ratio} | {rate} |")
    for dtype in ("fp32", "tf32"):
        conv = [r["ratio_vs_cudnn"] for r in records
                if r["kind"] == "conv" and r["dtype"] == dtype and r["ratio_vs_cudnn"] is not None]
        if conv:
            lines += ["", f"conv {dtype} ratio: median {statistics.median(conv):.2f}, min {min(conv):.2f}, "
                          f"max {max(conv):.2f} over {len(conv)} cases (goal: median >= 1.0, none below 0.8)"]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench_json", nargs="+")
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), "..", "results"))
    parser.add_argument("--device-name", help="file name stem (default: the device name in the JSON context)")
    args = parser.parse_args()
    context, runs = load_runs(args.bench_json)
    if not runs:
        sys.exit(f"{' '.join(args.bench_json)}: no successful benchmark runs (no GPU, or every case failed)")
    records, copy_gbps = build_records(runs)
    stem = args.device_name or slug(context.get("device", "unknown device"))
    os.makedirs(args.out_dir, exist_ok=True)
    meta = {k: context.get(k) for k in ("device", "sm_count", "cuda_driver", "cuda_runtime", "cudnn", "date")}
    meta["copy_gbps"] = round(copy_gbps, 1) if copy_gbps else None
    json_path = os.path.join(args.out_dir, stem + ".json")
    with open(json_path, "w") as f:
        json.dump({"context": meta, "records": records}, f, indent=1)
    md_path = os.path.join(args.out_dir, stem + ".md")
    text = markdown(context, records, copy_gbps)
    with open(md_path, "w") as f:
        f.write(text)
    print(text)
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
