#!/usr/bin/python3
"""Times PyTorch (CPU, 2 threads) on the shapes of our Google Benchmark binaries: the peer in compare_benchmarks.py.

    /usr/bin/python3 benchmarks/peers/bench_pytorch.py [--json out.json] [--filter REGEX] [--min-time 0.5] [--list]

Needs Debian's Python (torch 1.13 + numpy); the pyenv `python3` on PATH has no torch. Batch 1, fp32. Every case is
timed in both NCHW and channels_last and the faster layout is kept (PyTorch's oneDNN kernels prefer different
layouts for different ops); each time is the median (and the min) of repeats after a warm-up. Cases are keyed by the names of
our Google Benchmark cases (benchmarks/bench_*.cpp; the conv shapes are read from tests/op_cases/conv_shapes.h), and
compare_benchmarks.py maps the few variants (e.g. the *_op ones) onto them.
"""
import argparse
import json
import os
import platform
import re
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    sys.exit("bench_pytorch.py needs PyTorch (%s): run it with /usr/bin/python3" % e)

THREADS = 2
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

# Fallback when tests/op_cases/conv_shapes.h is absent: name -> (n, h, w, cin, cout, kernel, stride, padding, dilation).
DEFAULT_CONV_SHAPES = {
    "fc6_r12_41": (1, 41, 41, 1024, 1024, 3, 1, 12, 12),
    "fc6_r12_65": (1, 65, 65, 1024, 1024, 3, 1, 12, 12),
    "r2_512_41": (1, 41, 41, 512, 512, 3, 1, 2, 2),
    "r4_512_65": (1, 65, 65, 512, 512, 3, 1, 4, 4),
    "conv_64_321": (1, 321, 321, 64, 64, 3, 1, 1, 1),
    "pw_1024_65": (1, 65, 65, 1024, 1024, 1, 1, 0, 1),
}


def conv_shapes():
    """The DeepLab conv suite, read from tests/op_cases/conv_shapes.h so both sides always time the same shapes."""
    path = os.path.join(REPO, "tests", "op_cases", "conv_shapes.h")
    if not os.path.exists(path):
        return dict(DEFAULT_CONV_SHAPES)
    row = re.compile(r'\{"(\w+)",((?:\s*\d+\s*,){8}\s*\d+)\s*\}')
    shapes = {m.group(1): tuple(int(v) for v in m.group(2).split(",")) for m in row.finditer(open(path).read())}
    return shapes or dict(DEFAULT_CONV_SHAPES)


def conv_out(size, k, stride, pad, dilation):
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def conv_flops(shape):
    n, h, w, cin, cout, k, stride, pad, dilation = shape
    return 2.0 * n * cin * cout * k * k * conv_out(h, k, stride, pad, dilation) * conv_out(w, k, stride, pad, dilation)


def time_ms(fn, min_time, min_reps=5, max_reps=200, warmup=2):
    """(median, min) wall time of fn() in ms over repeats that last at least min_time seconds, after a warm-up."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times), 1e3 * min(times)


def layouts(*tensors):
    """Yields (layout name, tensors in that layout) for NCHW and channels_last."""
    yield "nchw", [t.contiguous() for t in tensors]
    yield "channels_last", [t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in tensors]


# ---- case builders: each returns {layout: callable} ----

def conv_case(shape, which):
    n, h, w, cin, cout, k, stride, pad, dilation = shape
    x = torch.randn(n, cin, h, w)
    wt = torch.randn(cout, cin, k, k) * (cin * k * k) ** -0.5
    b = torch.randn(cout)
    gy = torch.randn(n, cout, conv_out(h, k, stride, pad, dilation), conv_out(w, k, stride, pad, dilation))
    fns = {}
    for layout, (xl, wl, gyl) in layouts(x, wt, gy):
        if which == "forward":
            fns[layout] = lambda xl=xl, wl=wl: F.conv2d(xl, wl, b, stride, pad, dilation)
        else:
            mask = [which == "backward_data", which == "backward_weight", False]
            # The ATen entry point autograd calls for conv backward, restricted to one gradient.
            fns[layout] = lambda xl=xl, wl=wl, gyl=gyl, mask=mask: torch.ops.aten.convolution_backward(
                gyl, xl, wl, [cout], [stride, stride], [pad, pad], [dilation, dilation], False, [0, 0], 1, mask)
    return fns


def batch_norm_case(which, n, c, h, w):
    x = torch.randn(n, c, h, w) * 2 + 1
    weight, bias = torch.ones(c), torch.zeros(c)
    rm, rv = torch.zeros(c), torch.ones(c)
    gy = torch.randn_like(x)
    fns = {}
    for layout, (xl, gyl) in layouts(x, gy):
        if which == "forward":
            fns[layout] = lambda xl=xl: torch.ops.aten.native_batch_norm(xl, weight, bias, rm, rv, True, 0.1, 1e-5)
        else:
            _, save_mean, save_invstd = torch.ops.aten.native_batch_norm(xl, weight, bias, rm, rv, True, 0.1, 1e-5)
            fns[layout] = lambda xl=xl, gyl=gyl, sm=save_mean, si=save_invstd: torch.ops.aten.native_batch_norm_backward(
                gyl, xl, weight, rm, rv, sm, si, True, 1e-5, [True, True, True])
    return fns


def resize_case(which, c, size_in, size_out, align_corners):
    x = torch.randn(1, c, size_in, size_in)
    gy = torch.randn(1, c, size_out, size_out)
    size = (size_out, size_out)
    fns = {}
    for layout, (xl, gyl) in layouts(x, gy):
        forward = lambda xl=xl: F.interpolate(xl, size=size, mode="bilinear", align_corners=align_corners)
        backward = lambda gyl=gyl: torch.ops.aten.upsample_bilinear2d_backward(
            gyl, list(size), [1, c, size_in, size_in], align_corners, None, None)
        if which == "forward":
            fns[layout] = forward
        elif which == "backward":
            fns[layout] = backward
        else:
            fns[layout] = lambda f=forward, b=backward: (f(), b())
    return fns


def max_pool_case(which, c, size):
    x = torch.randn(1, c, size, size)
    fns = {}
    for layout, (xl,) in layouts(x):
        if which == "forward":
            fns[layout] = lambda xl=xl: F.max_pool2d(xl, 3, 2, 1, ceil_mode=True)
        else:
            y, idx = torch.ops.aten.max_pool2d_with_indices(xl, [3, 3], [2, 2], [1, 1], [1, 1], True)
            gy = torch.randn_like(y)
            fns[layout] = lambda xl=xl, gy=gy, idx=idx: torch.ops.aten.max_pool2d_with_indices_backward(
                gy, xl, [3, 3], [2, 2], [1, 1], [1, 1], True, idx)
    return fns


def avg_pool_case(which, c, size):
    x = torch.randn(1, c, size, size)
    fns = {}
    for layout, (xl,) in layouts(x):
        y = F.avg_pool2d(xl, 3, 1, 1)
        gy = torch.randn_like(y)
        if which == "forward":
            fns[layout] = lambda xl=xl: F.avg_pool2d(xl, 3, 1, 1)
        else:
            fns[layout] = lambda xl=xl, gy=gy: torch.ops.aten.avg_pool2d_backward(
                gy, xl, [3, 3], [1, 1], [1, 1], False, True, None)
    return fns


def cross_entropy_case(c, side):
    logits = torch.empty(1, c, side, side).uniform_(-5, 5)
    labels = torch.arange(side * side).reshape(1, side, side) % c
    labels[torch.arange(side * side).reshape(1, side, side) % 13 == 0] = 255
    fns = {}
    for layout, (ll,) in layouts(logits):
        def fwd_bwd(ll=ll):
            with torch.enable_grad():
                x = ll.detach().requires_grad_(True)
                F.cross_entropy(x, labels, ignore_index=255).backward()
        fns[layout] = fwd_bwd
    return fns


def all_cases():
    """Our benchmark name (without BM_'s /real_time suffix) -> (builder, flops or None)."""
    cases = {}
    for name, shape in conv_shapes().items():
        for which in ("forward", "backward_data", "backward_weight"):
            cases["BM_conv_%s/%s" % (which, name)] = (lambda s=shape, w=which: conv_case(s, w), conv_flops(shape))
    for name, dims in (("256x65x65", (1, 256, 65, 65)), ("10x512x41x41", (10, 512, 41, 41))):
        cases["BM_batch_norm_train_forward/" + name] = (lambda d=dims: batch_norm_case("forward", *d), None)
        cases["BM_batch_norm_train_backward/" + name] = (lambda d=dims: batch_norm_case("backward", *d), None)
    cases["BM_max_pool2d_forward/64x321x321_k3s2p1_ceil"] = (lambda: max_pool_case("forward", 64, 321), None)
    cases["BM_max_pool2d_backward/64x321x321_k3s2p1_ceil"] = (lambda: max_pool_case("backward", 64, 321), None)
    cases["BM_avg_pool2d_forward/1024x41x41_k3s1p1"] = (lambda: avg_pool_case("forward", 1024, 41), None)
    cases["BM_avg_pool2d_backward/1024x41x41_k3s1p1"] = (lambda: avg_pool_case("backward", 1024, 41), None)
    for c, size_in, size_out in ((21, 65, 513), (21, 41, 321)):
        for ac in (1, 0):
            suffix = "/%dx%dx%d_to_%d/ac%d" % (c, size_in, size_in, size_out, ac)
            for which in ("forward", "backward"):
                cases["BM_resize_" + which + suffix] = (
                    lambda w=which, c=c, i=size_in, o=size_out, ac=ac: resize_case(w, c, i, o, bool(ac)), None)
    cases["BM_resize_forward_backward_op/21x65x65_to_513/ac1"] = (
        lambda: resize_case("forward_backward", 21, 65, 513, True), None)
    cases["BM_softmax_cross_entropy_forward_backward/21x513x513"] = (lambda: cross_entropy_case(21, 513), None)
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write results here (default: stdout)")
    parser.add_argument("--filter", default="", help="only cases whose name matches this regular expression")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds of timed repeats per case and layout")
    parser.add_argument("--list", action="store_true", help="list the case names and exit")
    args = parser.parse_args()

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    cases = {n: c for n, c in all_cases().items() if re.search(args.filter, n)}
    if args.list:
        print("\n".join(cases))
        return

    results = {}
    with torch.no_grad():
        for name, (build, flops) in cases.items():
            timed = {layout: time_ms(fn, args.min_time) for layout, fn in build().items()}
            best = min(timed, key=lambda layout: timed[layout][0])
            best_min = min(timed, key=lambda layout: timed[layout][1])
            entry = {"ms": timed[best][0], "layout": best, "min_ms": timed[best_min][1], "min_layout": best_min,
                     "per_layout_ms": {layout: {"median": t[0], "min": t[1]} for layout, t in timed.items()}}
            if flops:
                entry["flops"] = flops
                entry["gflops"] = flops / (entry["ms"] * 1e-3) / 1e9
            results[name] = entry
            print("%-56s %10.3f ms median (%s), %10.3f ms min" % (name, entry["ms"], best, entry["min_ms"]),
                  file=sys.stderr, flush=True)

    out = {
        "meta": {"torch": torch.__version__, "threads": THREADS, "machine": platform.processor() or platform.machine(),
                 "mkldnn": torch.backends.mkldnn.is_available(), "min_time_s": args.min_time},
        "cases": results,
    }
    text = json.dumps(out, indent=1, sort_keys=True)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
