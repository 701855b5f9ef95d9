#!/usr/bin/python3
"""Writes tests/fixtures/safetensors/*.safetensors with an implementation independent of ours: plain struct/json
following the format's specification (github.com/huggingface/safetensors, "Format"), NumPy for the values and the
float16 rounding, and bit arithmetic for bfloat16. tests/test_safetensors.cpp reads them back.

Usage: /usr/bin/python3 tools/make_safetensors_fixtures.py   (regenerate only with this script)
"""
import json
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "safetensors")

DTYPE_NAMES = {
    np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.float16): "F16",
    np.dtype(np.int32): "I32", np.dtype(np.int64): "I64", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL",
}


def bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even; NaN becomes the quiet NaN of the same sign."""
    b = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF
    sign = (b >> 16) & 0x8000
    return np.where(np.isnan(x), sign | 0x7FC0, rounded).astype(np.uint16)


def write_safetensors(path, entries, metadata):
    """entries: list of (name, file dtype, shape, raw little-endian bytes), laid out in the given order (no sorting
    by alignment, so some tensors start at unaligned offsets: readers must cope)."""
    header, data, offset = {}, b"", 0
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)


def entry(name, array):
    a = np.array(array, order="C")  # (ascontiguousarray would turn a 0-d array into 1-d)
    return (name, DTYPE_NAMES[a.dtype], a.shape, a.astype(a.dtype.newbyteorder("<")).tobytes())


def conversion_sources():
    """float32 values exercising rounding: ties, subnormals, overflow, infinities, NaN, signed zero."""
    special = [0.0, -0.0, 1.0, -1.0, 1.0 / 3.0, 0.1, -2.5, 65504.0, 65519.0, 65520.0, 1e5, -1e5,
               2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 1.5 * 2.0 ** -24, 6.0e-5, -3.0e-6, 1e-8,
               1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 2049.0, 2051.0, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8,
               3.0e38, 3.4e38, -3.39e38, 1e-38, 1e-40, 1e-45,
               float("inf"), float("-inf"), float("nan")]
    rng = np.random.default_rng(7)
    return np.concatenate([np.array(special, dtype=np.float32),
                           (rng.standard_normal(29) * 10.0 ** rng.integers(-6, 6, 29)).astype(np.float32)])


def main():
    os.makedirs(OUT, exist_ok=True)
    src = conversion_sources()
    with np.errstate(over="ignore"):
        f16 = src.astype(np.float16)
    bf16 = bf16_bits(src)
    entries = [
        entry("flags", np.array([True, False, True, True, False])),
        entry("bytes", np.array([0, 1, 127, 255], dtype=np.uint8)),  # 9 bytes so far: what follows is unaligned
        entry("conv.weight", (np.arange(36, dtype=np.float32) * 0.25 - 4.0).reshape(2, 3, 3, 2)),
        entry("double", np.array([np.pi, -1e300, 5e-324], dtype=np.float64)),
        entry("ints", np.array([[1, -2], [2147483647, -2147483648]], dtype=np.int32)),
        entry("longs", np.array([0, -7, 2 ** 31 - 1, -(2 ** 31)], dtype=np.int64)),
        entry("scalar", np.array(2.5, dtype=np.float32)),
        entry("empty", np.zeros((0, 3), dtype=np.float32)),
        entry("src", src),
        entry("src_f16", f16),
        entry("src_f16_as_f32", f16.astype(np.float32)),
        ("src_bf16", "BF16", bf16.shape, bf16.astype("<u2").tobytes()),
        entry("src_bf16_as_f32", (bf16.astype(np.uint32) << 16).view(np.float32)),
    ]
    metadata = {"format": "pt", "producer": "tools/make_safetensors_fixtures.py", "note": "caf\u00e9 \u2713"}
    write_safetensors(os.path.join(OUT, "interop.safetensors"), entries, metadata)
    print("wrote", os.path.normpath(os.path.join(OUT, "interop.safetensors")))


if __name__ == "__main__":
    main()
