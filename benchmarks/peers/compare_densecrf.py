#!/usr/bin/env python3
"""Runs our dense CRF and Kraehenbuehl's densecrf side by side on the same inputs: time ratio and label agreement.

    python3 benchmarks/peers/compare_densecrf.py --densecrf DIR --build BUILD_DIR [--pair IMAGE SCORES.npy ... |
                                      --images DIR --scores DIR [--limit N]] [--synthetic] [--cityscapes]
                                      [--scores-kind logits|probs]
                                      [--preset NAME] [--w1 --sa --sb --w2 --sg --iterations --normalization]
                                      [--api 1|2] [--include DIR ...] [--lib FILE ...] [--json OUT]

We do not vendor or download densecrf: DIR is the user's own checkout and build of it (the 2.x release with
include/densecrf.h and a built libdensecrf.a, or the 2011 release / DeepLab's fork with densecrf.h beside
libdensecrf.a; --api picks the interface, detected from the header otherwise). BUILD_DIR is a configured and built atrous
build tree (CPU-only or CUDA), used as a CMake package: the script compiles benchmarks/peers/compare_densecrf.cpp against it
and densecrf into BUILD_DIR/compare_densecrf_driver and runs it once per input; each run times both on the same
unary (ours on one thread and on all, densecrf single-threaded) --repeats times in turn, after a warm-up run of
each, and reports the medians; --memory adds each side's peak resident memory, measured alone.

Inputs: image/score pairs; --synthetic adds bench_crf's synthetic photos at VOC size (500x375, 21 labels) and
Cityscapes size (2048x1024, 19 labels); --cityscapes also runs every pair resized to 2048x1024.

Reported per input and in total: median seconds, ratio densecrf / ours (> 1: we are faster), pixel agreement of the label
maps, and agreement on the pixels either CRF changed relative to the scores' argmax (the CRF changes only a few
percent of the pixels, so overall agreement alone would hide disagreements there). The 2011 API normalises kernels
"after" (D^-1 K), so with --api 1 ours runs with --normalization after. Goals (DESIGN.md): ours >= 3x faster on one
thread, >= 99.5% agreement overall and on the changed pixels.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# DeepLab's presets, mirrored from crf/crf_params.cpp: (w1, sigma_alpha, sigma_beta, w2, sigma_gamma).
PRESETS = {
    "deeplab-v1-largefov": (4, 121, 5, 3, 3),
    "deeplab-v1": (5, 50, 10, 3, 3),
    "deeplab-v1-msc": (3, 95, 3, 3, 3),
    "deeplab-v1-msc-largefov": (4, 83, 5, 3, 3),
    "deeplab-v1-coco-largefov": (5, 69, 5, 3, 3),
    "deeplab-v2-vgg16": (4, 65, 3, 2, 2),
    "deeplab-v2-resnet101": (4, 67, 3, 3, 1),
    "densecrf-demo": (10, 80, 13, 3, 3),
}


def find_first(root, patterns):
    for pattern in patterns:
        hits = sorted(glob.glob(os.path.join(root, "**", pattern), recursive=True))
        if hits:
            return hits[0]
    return None


def densecrf_flags(args):
    """Include directories, libraries and API version for the user's densecrf checkout."""
    header = find_first(args.densecrf, ["densecrf.h"])
    if not header:
        sys.exit(f"compare_densecrf: no densecrf.h under {args.densecrf}")
    includes = list(args.include) or [os.path.dirname(header)]
    api = args.api
    if api is None:
        with open(header, errors="replace") as f:
            api = 2 if "MatrixXf" in f.read() else 1
    if api == 2 and not args.include:
        eigen = find_first(args.densecrf, ["Eigen/Core"])
        includes.append(os.path.dirname(os.path.dirname(eigen)) if eigen else "/usr/include/eigen3")
    libs = list(args.lib)
    if not libs:
        lib = find_first(args.densecrf, ["libdensecrf.a", "libdensecrf.so"])
        if not lib:
            sys.exit(f"compare_densecrf: no libdensecrf.a/.so under {args.densecrf} (build densecrf first, or --lib)")
        libs.append(lib)
        lbfgs = find_first(args.densecrf, ["liblbfgs.a"])  # the 2.x release's optimiser, needed by its library
        if lbfgs:
            libs.append(lbfgs)
    return includes, libs, api


DRIVER_PROJECT = """cmake_minimum_required(VERSION 3.22)
project(compare_densecrf LANGUAGES CXX)
find_package(atrous REQUIRED CONFIG PATHS "{build}" NO_DEFAULT_PATH)
add_executable(compare_densecrf "{source}")
target_compile_definitions(compare_densecrf PRIVATE DENSECRF_API={api})
target_include_directories(compare_densecrf PRIVATE {includes})
target_link_libraries(compare_densecrf PRIVATE atrous::atrous {libs})
"""


def build_driver(args, includes, libs, api):
    """Compiles benchmarks/peers/compare_densecrf.cpp against the atrous build tree's CMake package (which carries every
    dependency of libatrous.a, CUDA's too in a CUDA build) and the user's densecrf."""
    build = os.path.abspath(args.build)
    if not os.path.exists(os.path.join(build, "atrousTargets.cmake")):
        sys.exit(f"compare_densecrf: {build} is not a configured atrous build (no atrousTargets.cmake; "
                 "configure it with this checkout's CMakeLists.txt and build the atrous target)")
    project = os.path.join(build, "compare_densecrf_driver")
    os.makedirs(project, exist_ok=True)
    quote = lambda paths: " ".join(f'"{os.path.abspath(p)}"' for p in paths)
    with open(os.path.join(project, "CMakeLists.txt"), "w") as f:
        f.write(DRIVER_PROJECT.format(build=build, source=os.path.join(HERE, "compare_densecrf.cpp"), api=api,
                                      includes=quote(includes), libs=quote(libs)))
    # No -march=native by default: Eigen matrices cross into the 2.x library, and Eigen's alignment (hence its
    # allocation ABI) follows the instruction set, so the driver must be compiled like densecrf was (--cxxflags).
    # Our CRF is already compiled, inside libatrous.a.
    configure = ["cmake", "-S", project, "-B", os.path.join(project, "build"), "-DCMAKE_BUILD_TYPE=Release",
                 f"-DCMAKE_CXX_COMPILER={args.cxx}", f"-DCMAKE_CXX_FLAGS={args.cxxflags}"]
    print("building the driver:", " ".join(configure), file=sys.stderr)
    for cmd in (configure, ["cmake", "--build", os.path.join(project, "build")]):
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"compare_densecrf: {' '.join(cmd)} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
    return os.path.join(project, "build", "compare_densecrf")


def inputs_from_args(args):
    """(image, scores, size or None) per run."""
    pairs = pairs_from_args(args)
    runs = [(image, scores, None) for image, scores in pairs]
    if args.cityscapes:
        runs += [(image, scores, "2048x1024") for image, scores in pairs]
    if args.synthetic:
        runs += [("synthetic:500x375x21", "-", None), ("synthetic:2048x1024x19", "-", None)]
    if not runs:
        sys.exit("compare_densecrf: give --pair IMAGE SCORES.npy (repeatable), --images DIR --scores DIR, "
                 "or --synthetic")
    return runs


def pairs_from_args(args):
    if args.pair:
        return [tuple(p) for p in args.pair]
    if not (args.images or args.scores):
        return []
    if not (args.images and args.scores):
        sys.exit("compare_densecrf: --images and --scores go together")
    pairs = []
    for npy in sorted(glob.glob(os.path.join(args.scores, "*.npy"))):
        stem = os.path.splitext(os.path.basename(npy))[0]
        image = next((p for ext in (".jpg", ".png", ".jpeg") for p in [os.path.join(args.images, stem + ext)]
                      if os.path.exists(p)), None)
        if image is None:
            sys.exit(f"compare_densecrf: no image for {npy} in {args.images}")
        pairs.append((image, npy))
    return pairs[: args.limit] if args.limit > 0 else pairs


def run_driver(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"compare_densecrf: {' '.join(cmd)} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--densecrf", required=True, help="the user's densecrf checkout with its build")
    parser.add_argument("--build", required=True, help="atrous build directory (holds libatrous.a)")
    parser.add_argument("--pair", nargs=2, action="append", metavar=("IMAGE", "SCORES"), help="image and its .npy")
    parser.add_argument("--images", help="folder of <id>.jpg/.png")
    parser.add_argument("--scores", help="folder of <id>.npy (H x W x C float32)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--synthetic", action="store_true", help="add the synthetic VOC- and Cityscapes-size inputs")
    parser.add_argument("--cityscapes", action="store_true", help="also run every pair resized to 2048x1024")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side and input (medians reported)")
    parser.add_argument("--memory", action="store_true", help="also measure each side's peak memory, alone")
    parser.add_argument("--scores-kind", choices=["logits", "probs"], default="logits")
    parser.add_argument("--preset", default="deeplab-v1-largefov", choices=sorted(PRESETS))
    for name in ("w1", "sa", "sb", "w2", "sg"):
        parser.add_argument(f"--{name}", type=float)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--normalization", default=None, choices=["symmetric", "after", "before", "none"])
    parser.add_argument("--api", type=int, choices=[1, 2], help="densecrf interface (default: from its header)")
    parser.add_argument("--include", action="append", default=[], help="include directory (replaces detection)")
    parser.add_argument("--lib", action="append", default=[], help="library to link (replaces detection)")
    parser.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    parser.add_argument("--cxxflags", default="", help="extra flags for the driver, e.g. densecrf's -march")
    parser.add_argument("--json", help="also write every row and the totals here")
    args = parser.parse_args()

    includes, libs, api = densecrf_flags(args)
    normalization = args.normalization or ("after" if api == 1 else "symmetric")
    if api == 1 and normalization != "after":
        sys.exit("compare_densecrf: densecrf's 2011 API only normalises 'after'; compare with --normalization after")
    params = list(PRESETS[args.preset])
    for i, name in enumerate(("w1", "sa", "sb", "w2", "sg")):
        if getattr(args, name) is not None:
            params[i] = getattr(args, name)
    driver = build_driver(args, includes, libs, api)

    rows = []
    print(f"{'image':<32} {'size':>13} {'ours 1t s':>10} {'ours s':>8} {'densecrf s':>10} {'ratio 1t':>8} "
          f"{'ratio':>6} {'agree':>8} {'changed':>8} {'agree on changed':>17}" +
          (f" {'ours MB':>8} {'densecrf MB':>11}" if args.memory else ""))
    for image, scores, size in inputs_from_args(args):
        cmd = [driver, image, scores, args.scores_kind] + [str(v) for v in params] + [str(args.iterations),
                                                                                       normalization]
        cmd += ["--size", size] if size else []
        row = run_driver(cmd + ["--repeats", str(args.repeats)])
        if args.memory:  # each side alone in a fresh process: its peak resident memory
            for side in ("ours", "densecrf"):
                row[f"{side}_max_rss_mb"] = run_driver(cmd + ["--only", side])["max_rss_mb"]
        rows.append(row)
        changed = max(row["changed"], 1)
        print(f"{os.path.basename(image):<32} {row['width']:>4}x{row['height']}x{row['labels']:<3} "
              f"{row['ours_1t_s']:>10.3f} {row['ours_s']:>8.3f} {row['densecrf_s']:>10.3f} "
              f"{row['densecrf_s'] / row['ours_1t_s']:>7.2f}x {row['densecrf_s'] / row['ours_s']:>5.2f}x "
              f"{100 * row['agree'] / row['pixels']:>7.3f}% {100 * row['changed'] / row['pixels']:>7.2f}% "
              f"{100 * row['agree_changed'] / changed:>16.3f}%" +
              (f" {row['ours_max_rss_mb']:>8.0f} {row['densecrf_max_rss_mb']:>11.0f}" if args.memory else ""),
              flush=True)
    if not rows:
        sys.exit("compare_densecrf: no inputs")
    total = {k: sum(r[k] for r in rows) for k in ("ours_1t_s", "ours_s", "densecrf_s", "pixels", "agree", "changed",
                                                  "agree_changed")}
    total["speedup_1t"] = total["densecrf_s"] / total["ours_1t_s"]
    total["speedup"] = total["densecrf_s"] / total["ours_s"]
    total["agreement"] = total["agree"] / total["pixels"]
    total["agreement_changed"] = total["agree_changed"] / max(total["changed"], 1)
    print(f"total over {len(rows)} images: densecrf {total['densecrf_s']:.3f} s, ours {total['ours_1t_s']:.3f} s on "
          f"one thread ({total['speedup_1t']:.2f}x faster), {total['ours_s']:.3f} s on {rows[0]['threads']} threads "
          f"({total['speedup']:.2f}x); label agreement {100 * total['agreement']:.3f}%, on the "
          f"{100 * total['changed'] / total['pixels']:.2f}% changed pixels {100 * total['agreement_changed']:.3f}%")
    print(f"parameters: w1={params[0]} sa={params[1]} sb={params[2]} w2={params[3]} sg={params[4]} "
          f"iterations={args.iterations} normalization={normalization}, densecrf API {api}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "total": total, "params": params, "api": api}, f, indent=1)


if __name__ == "__main__":
    main()
