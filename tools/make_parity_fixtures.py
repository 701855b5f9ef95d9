#!/usr/bin/python3
"""Writes tests/fixtures/parity/: forward-parity fixtures of whole models against PyTorch, for
tests/test_pytorch_parity.cpp (torchvision deeplabv3_resnet50 and a PyTorch DeepLab-v1 LargeFOV).

Usage (Debian's Python with torch 1.13 + torchvision 0.14; nothing is downloaded):

    /usr/bin/python3 tools/make_parity_fixtures.py                 # rewrites tests/fixtures/parity/
    /usr/bin/python3 tools/make_parity_fixtures.py --check-export deeplabv3_resnet50 FILE.safetensors
        # loads a file written by `atrous convert-weights --to-pytorch` with load_state_dict(strict=True) and
        # checks that it holds the deterministic weights below (so PyTorch reads our export as it is)

Real weights are ~160 MB, too big to commit, so both sides generate the SAME weights from a formula instead. For the
k-th tensor (0-based) of the PyTorch state dict (num_batches_tracked left out) and its element i in PyTorch's
flattened (OIHW) order:

    key  = splitmix64(seed * 2**32 + k)
    h    = splitmix64((key + i) mod 2**64)
    u    = ((h >> 40) - 2**23) * 2**-24                  # in [-0.5, 0.5), a 24-bit integer times a power of two
    w    = float32(offset_k + scale_k * u)               # float64 arithmetic, one rounding to float32

scale_k is a float32 value, so scale_k * u is exact in float64 and a fused multiply-add gives the same result as
separate operations: any IEEE compiler reproduces the weights bit for bit. names.txt lists, per model, every tensor's
name, PyTorch shape, scale and offset (as exact hexadecimal floats), so the C++ test needs no rules of its own, and
the sum of the values' float32 bit patterns, so it can prove it generated the same bits.

Each model is evaluated in float64 on those float32 weights (and a float32 input), and the logits at the output
stride (before any upsampling) are rounded to float32: the fixtures hold the answer to float32 precision, so the test
measures only our own float32 error. Arrays are NHWC (our layout).

Also written: tiny_pt.safetensors, the state dict of a small torchvision-style model (conv, BN with its int64
num_batches_tracked, 1x1 convs) serialised here with struct/json in PyTorch's layout (OIHW) and metadata
{"format": "pt"}, with its input and logits: the file-level import path on bytes that PyTorch's side wrote.
"""
import json
import os
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
    from torchvision.models.segmentation import (deeplabv3_mobilenet_v3_large, deeplabv3_resnet50, fcn_resnet50,
                                                 lraspp_mobilenet_v3_large)
except ImportError as e:
    sys.exit("make_parity_fixtures.py needs torch, torchvision and numpy (%s): run it with /usr/bin/python3" % e)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "parity")
MASK64 = (1 << 64) - 1
NUM_CLASSES = 5


# ---- the deterministic weights ----

def splitmix64(x):
    """Vectorised splitmix64 on uint64 arrays (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def deterministic_values(seed, k, count, scale, offset):
    key = int(splitmix64(np.uint64(((seed << 32) + k) & MASK64)))
    with np.errstate(over="ignore"):
        h = splitmix64(np.uint64(key) + np.arange(count, dtype=np.uint64))
    u = ((h >> np.uint64(40)).astype(np.int64) - (1 << 23)).astype(np.float64) * 2.0 ** -24
    return (offset + scale * u).astype(np.float32)


def f32(x):
    return float(np.float32(x))


def weight_rule(name, shape, bn_prefixes, last_bn_prefixes):
    """(scale, offset) for one tensor: He-uniform convs, small biases, BN near the identity. The last BN of each
    residual branch gets a smaller gamma so that activations stay O(1) through 16 residual additions."""
    prefix, _, leaf = name.rpartition(".")
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return f32(2.0 * np.sqrt(6.0 / fan_in)), 0.0
    if prefix in bn_prefixes:
        gamma = 0.35 if prefix in last_bn_prefixes else 1.0
        return {"weight": (f32(0.5 * gamma), gamma), "bias": (f32(0.2), 0.0), "running_mean": (f32(0.2), 0.0),
                "running_var": (1.0, 1.0)}[leaf]
    return f32(0.2), 0.0  # conv biases


def fill_deterministic(model, seed):
    """Overwrites every tensor of model.state_dict() (but num_batches_tracked) and returns the names.txt rows."""
    bn_prefixes = {n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    last_bn = {n for n in bn_prefixes if n.endswith(".bn3") or n.endswith("downsample.1")}
    rows, k = [], 0
    state = model.state_dict()
    for name, t in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        scale, offset = weight_rule(name, tuple(t.shape), bn_prefixes, last_bn)
        values = deterministic_values(seed, k, t.numel(), scale, offset)
        t.copy_(torch.from_numpy(values.reshape(tuple(t.shape))))
        rows.append((name, tuple(t.shape), scale, offset, int(values.view(np.uint32).astype(np.uint64).sum())))
        k += 1
    return rows


def write_names(path, seed, rows):
    with open(path, "w") as f:
        f.write("# seed %d; one tensor per line in PyTorch state-dict order: name, PyTorch shape (OIHW for convs), "
                "scale, offset (hexadecimal floats), sum of the float32 bit patterns (a checksum); see "
                "tools/make_parity_fixtures.py\n" % seed)
        for name, shape, scale, offset, checksum in rows:
            f.write("%s %s %s %s %d\n" % (name, ",".join(str(s) for s in shape), float(scale).hex(),
                                          float(offset).hex(), checksum))


# ---- the models ----

class LargeFov(nn.Module):
    """DeepLab-v1 LargeFOV (v1 paper Sec. 3.1, v2 Table 1) on torchvision's vgg16().features, exactly as our
    deeplab-v1-largefov (models/vgg_deeplab.h): pool1..3 max 3x3 s2 p1 ceil, pool4/5 max 3x3 s1 p1 ceil, conv5_x
    dilation 2, a 3x3 s1 p1 average pool after pool5, fc6 3x3 rate 12 (1024), fc7 1x1 (1024), fc8 1x1."""

    def __init__(self, num_classes):
        super().__init__()
        self.features = torchvision.models.vgg16(weights=None).features
        for i in (4, 9, 16):
            self.features[i] = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        for i in (23, 30):
            self.features[i] = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        for i in (24, 26, 28):
            self.features[i].dilation, self.features[i].padding = (2, 2), (2, 2)
        self.pool5a = nn.AvgPool2d(3, stride=1, padding=1)
        self.fc6 = nn.Conv2d(512, 1024, 3, padding=12, dilation=12)
        self.relu6, self.drop6 = nn.ReLU(), nn.Dropout(0.5)
        self.fc7 = nn.Conv2d(1024, 1024, 1)
        self.relu7, self.drop7 = nn.ReLU(), nn.Dropout(0.5)
        self.fc8 = nn.Conv2d(1024, num_classes, 1)

    def forward(self, x):
        h = self.pool5a(self.features(x))
        h = self.drop6(self.relu6(self.fc6(h)))
        h = self.drop7(self.relu7(self.fc7(h)))
        return self.fc8(h)


class Tiny(nn.Module):
    """torchvision-style names: features.0 conv (dilated, no bias), .1 BN, .2 ReLU, .3 1x1 conv; classifier 1x1."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(8),
                                      nn.ReLU(), nn.Conv2d(8, 6, 1))
        self.classifier = nn.Conv2d(6, 4, 1)

    def forward(self, x):
        return self.classifier(self.features(x))


class DeepLabV3PlusMobileNetV2(nn.Module):
    """DeepLabv3+ on MobileNetV2 as our deeplabv3plus-mobilenetv2 (models/deeplab_v3_plus.h), written here from
    torchvision's parts: mobilenet_v2().features[:18] made atrous for output stride 16 by TF DeepLab's rule (once the
    stride is reached, a block's stride becomes 1 and later blocks' depthwise rate doubles), torchvision's ASPP
    (rates 6, 12, 18 + image pooling), a decoder (stride-4 features, features.3, projected to 48, concatenated with
    the ASPP output resized with align_corners=True, two 3x3 conv+BN+ReLU of 256) and a 1x1 classifier."""

    def __init__(self, num_classes):
        super().__init__()
        from torchvision.models.segmentation.deeplabv3 import ASPP
        self.backbone = nn.Module()
        self.backbone.features = torchvision.models.mobilenet_v2(weights=None).features[:18]
        current, rate = 2, 1
        for block in self.backbone.features[1:]:
            depthwise = [m for m in block.modules() if isinstance(m, nn.Conv2d) and m.groups > 1][0]
            if current == 16 and depthwise.stride[0] == 2:
                depthwise.stride = (1, 1)
                rate *= 2
                continue  # the block that gives up its stride keeps the rate it had
            if current == 16:
                depthwise.dilation, depthwise.padding = (rate, rate), (rate, rate)
            else:
                current *= depthwise.stride[0]
        self.aspp = ASPP(320, [6, 12, 18], 256)
        self.aspp.project[3] = nn.Dropout(0.1)
        self.decoder = nn.Module()
        self.decoder.low_level = nn.Sequential(nn.Conv2d(24, 48, 1, bias=False), nn.BatchNorm2d(48), nn.ReLU())
        self.decoder.fuse = nn.Sequential(
            nn.Sequential(nn.Conv2d(304, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU()),
            nn.Sequential(nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU()))
        self.classifier = nn.Conv2d(256, num_classes, 1)

    def forward(self, x):
        features = self.backbone.features
        low = features[:4](x)
        h = self.aspp(features[4:](low))
        h = F.interpolate(h, size=low.shape[-2:], mode="bilinear", align_corners=True)
        return self.classifier(self.decoder.fuse(torch.cat([self.decoder.low_level(low), h], dim=1)))


def nhwc(t):
    return np.ascontiguousarray(t.detach().permute(0, 2, 3, 1).numpy().astype(np.float32))


def deterministic_input(seed, shape):
    """Uniform [-1.7, 1.7) (unit variance), by the same hash (tensor index 2**31)."""
    return torch.from_numpy(deterministic_values(seed, 1 << 31, int(np.prod(shape)), f32(2 * 3.0 ** 0.5), 0.0)
                            .reshape(shape))


def run_case(case, model, seed, input_shape, forward):
    """Fills `model`, runs it in float64 (and float32 for comparison), writes <case>_{input,logits}.npy and
    <case>_names.txt."""
    model.eval()
    rows = fill_deterministic(model, seed)
    x = deterministic_input(seed, input_shape)
    with torch.no_grad():
        y32 = forward(model, x)
        y64 = forward(model.double(), x.double())
    model.float()
    scale = y64.abs().max().item()
    print("%s: %d tensors, %d parameters, input %s, logits %s, max|logit| %.4g, PyTorch float32 vs float64: "
          "max abs %.3g (%.3g of max|logit|)" % (case, len(rows), sum(int(np.prod(r[1])) for r in rows),
                                                  list(x.shape), list(y64.shape), scale,
                                                  (y32.double() - y64).abs().max().item(),
                                                  (y32.double() - y64).abs().max().item() / scale))
    np.save(os.path.join(OUT, case + "_input.npy"), nhwc(x))
    np.save(os.path.join(OUT, case + "_logits.npy"), nhwc(y64))
    write_names(os.path.join(OUT, case + "_names.txt"), seed, rows)


def deeplabv3_logits(model, x):
    # torchvision's forward upsamples to the input; the logits at output stride 8 are the classifier's output
    # (DeepLabV3 and FCN alike).
    return model.classifier(model.backbone(x)["out"])


# ---- a safetensors writer (the format's specification, github.com/huggingface/safetensors) ----

ST_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name, a in tensors:
        raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST_DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    kinds = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype=np.dtype(kinds[e["dtype"]]).newbyteorder("<")) \
            .reshape(e["shape"]).copy()
    return out, header.get("__metadata__", {})


def tiny_case(seed):
    torch.manual_seed(seed)
    model = Tiny().eval()
    bn = model.features[1]
    with torch.no_grad():
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    bn.num_batches_tracked.fill_(7)
    x = torch.randn(1, 3, 11, 9)
    with torch.no_grad():
        y = model.double()(x.double())
    model.float()
    tensors = [(k, v.numpy()) for k, v in model.state_dict().items()]
    write_safetensors(os.path.join(OUT, "tiny_pt.safetensors"), tensors, {"format": "pt"})
    np.save(os.path.join(OUT, "tiny_input.npy"), nhwc(x))
    np.save(os.path.join(OUT, "tiny_logits.npy"), nhwc(y))
    print("tiny: %s" % ", ".join("%s %s" % (k, list(v.shape)) for k, v in tensors))


CASES = {
    # name: (seed, model builder, input NCHW, logits at the output stride)
    "deeplabv3_resnet50": (11, lambda: deeplabv3_resnet50(weights=None, weights_backbone=None,
                                                          num_classes=NUM_CLASSES, aux_loss=False),
                           (1, 3, 65, 57), deeplabv3_logits),
    # 75 wide: pool2 and pool3 round up (ceil mode) there, 97 high: they do not.
    "largefov": (12, lambda: LargeFov(NUM_CLASSES), (1, 3, 97, 75), lambda m, x: m(x)),
    "fcn_resnet50": (15, lambda: fcn_resnet50(weights=None, weights_backbone=None, num_classes=NUM_CLASSES,
                                              aux_loss=False),
                     (1, 3, 49, 43), deeplabv3_logits),
    "deeplabv3_mobilenet_v3_large": (16, lambda: deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=NUM_CLASSES, aux_loss=False), (1, 3, 67, 53), deeplabv3_logits),
    # LR-ASPP's logits before torchvision upsamples them: the head on the backbone's {"low", "high"} features.
    "lraspp_mobilenet_v3_large": (17, lambda: lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=NUM_CLASSES), (1, 3, 67, 53),
                                  lambda m, x: m.classifier(m.backbone(x))),
    # 65 high: every stride-2 layer rounds up; output stride 16 turns features.14's stride into rate 2 after it.
    "deeplabv3plus_mobilenetv2": (14, lambda: DeepLabV3PlusMobileNetV2(NUM_CLASSES), (1, 3, 65, 57),
                                  lambda m, x: m(x)),
}


def check_export(case, path):
    """A file from `atrous convert-weights --to-pytorch` must load strictly and hold the deterministic weights."""
    seed, build, _, _ = CASES[case]
    reference = build()
    fill_deterministic(reference, seed)
    tensors, metadata = read_safetensors(path)
    model = build()
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    for name, t in reference.state_dict().items():
        if not name.endswith("num_batches_tracked") and not torch.equal(model.state_dict()[name], t):
            sys.exit("check-export: %s differs" % name)
    print("check-export: %s loads into PyTorch (strict), %d tensors equal, metadata %s" % (path, len(tensors),
                                                                                          metadata))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check-export":
        check_export(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    for case, (seed, build, shape, forward) in CASES.items():
        run_case(case, build(), seed, shape, forward)
    tiny_case(13)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("# Whole-model parity fixtures\n\nGenerated by `/usr/bin/python3 tools/make_parity_fixtures.py` "
                "(PyTorch %s, torchvision %s); do not edit by hand. Read by tests/test_pytorch_parity.cpp.\n\n"
                "- `<case>_names.txt`: the PyTorch state dict (names, OIHW shapes) and the parameters of its "
                "deterministic values (formula in the script)\n"
                "- `<case>_input.npy`, `<case>_logits.npy`: NHWC float32; logits at the output stride, computed in "
                "float64\n"
                "- `tiny_pt.safetensors` (+ `tiny_input.npy`, `tiny_logits.npy`): a small torchvision-style state "
                "dict serialised on the Python side in PyTorch's layout\n" % (torch.__version__,
                                                                               torchvision.__version__))


if __name__ == "__main__":
    main()
