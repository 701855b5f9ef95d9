#!/usr/bin/env python3
"""Fails when a source file of the library includes a project header from a floor above its own.

The floors (docs/design.md) run from the basics up to the command line; a file may include headers of its own
floor and the floors below. Test-only, benchmark and example code sits above everything and is not checked.

    python3 tests/scripts/check_layering.py [REPO_ROOT]
"""
import pathlib
import re
import sys

# (floor, what it holds, path prefixes); the longest matching prefix decides a file's floor.
FLOORS = [
    (1, "core basics: errors, dtypes, shapes, devices, random streams, allocators, registries, the CUDA runtime",
     ["core/error.h", "core/dtype.h", "core/half.h", "core/shape.h", "core/device.h", "core/random.h",
      "core/allocator.h", "core/caching_pool.h", "core/random.cpp", "core/cuda_runtime.h", "core/named_registry.h",
      "core/host_device.h", "core/cuda/"]),
    (2, "kernels: raw compute on pointers, and the CUDA simulator (its cuBLAS runs our GEMM)", ["kernels/"]),
    (3, "core: Tensor, autograd, argument checks, tensor files", ["core/"]),
    (4, "the differentiable ops and the umbrella header", ["core/ops/", "core/atrous.h"]),
    (5, "data-parallel communication", ["dist/"]),
    (6, "modules", ["layers/"]),
    (7, "models, datasets, the dense CRF", ["models/", "data/", "crf/"]),
    (8, "optimisation (SGD, LR and BN policies), evaluation, plots", ["solvers/", "eval/", "plot/"]),
    (9, "training: the Trainer, checkpoints, logs, presets", ["train/"]),
    (10, "the command line", ["cli/"]),
]
SOURCE = re.compile(r"\.(h|cpp|cu|cuh)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def floor_of(path):
    best = None
    for floor, _, prefixes in FLOORS:
        for prefix in prefixes:
            if path.startswith(prefix) and (best is None or len(prefix) > len(best[1])):
                best = (floor, prefix)
    return best[0] if best else None


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
    checked, violations = 0, []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or not SOURCE.search(rel) or rel.startswith(("build", ".git")):
            continue
        floor = floor_of(rel)
        if floor is None:
            continue
        checked += 1
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            target = floor_of(match.group(1)) if match else None
            if target is not None and target > floor:
                violations.append(f"{rel}:{number} (floor {floor}) includes {match.group(1)} (floor {target})")
    if checked < 100:
        print(f"check_layering: only {checked} files found under {root}; wrong root?")
        return 1
    for v in violations:
        print(v)
    print(f"check_layering: {checked} files, {len(violations)} upward includes")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
