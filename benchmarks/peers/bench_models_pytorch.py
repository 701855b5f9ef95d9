#!/usr/bin/python3
"""Times whole DeepLab models in PyTorch (CPU, 2 threads, batch 1 and 8, fp32): the peer of benchmarks/bench_models.cpp.

    /usr/bin/python3 benchmarks/peers/bench_models_pytorch.py [--json out.json] [--filter REGEX] [--repeats N] [--list]
    /usr/bin/python3 benchmarks/peers/bench_models_pytorch.py --serve CASE [--layout nchw|channels_last]

Needs Debian's Python (torch 1.13 + torchvision 0.14); nothing is downloaded (weights=None, random init). Cases are
keyed by our Google Benchmark names: BM_model_eval/<model>/<size>[/batch:<n>] (image -> logits resized to the image,
no grad, eval mode) and BM_model_train_step/<model>/<size>[/batch:<n>] (train-mode forward, logits resized to the
labels, cross-entropy with ignore index 255, backward, SGD momentum 0.9 weight decay 5e-4 in our models' parameter
groups). Every case runs in a fresh process per layout (NCHW and channels_last; the faster median is kept) so that
its peak RSS is its own; each time is the median of single steps after warm-up steps. BN running statistics are
calibrated on the image first (see calibrate_batch_norms), as ours are.

Models, built to compute what ours compute (models/*.h):
- deeplab-v1-largefov: VGG-16 convs (conv5 dilation 2), max pools 3x3 pad 1 ceil mode (strides 2,2,2,1,1), a 3x3
  stride-1 average pool, fc6 3x3 rate 12 (1024) - ReLU - dropout 0.5 - fc7 1x1 (1024) - ReLU - dropout - fc8 1x1;
  logits resized with align_corners=True.
- deeplabv3_resnet101: torchvision's (OS8, ASPP 12/24/36), whose forward resizes to the input (align_corners=False).
  In the train step the image-pooling branch's BN runs in eval mode: PyTorch rejects batch statistics over a single
  value (batch 1, 1x1); the cost is the same.
- deeplabv2-resnet101: torchvision ResNet-101 at OS8 with every block of layer3/layer4 dilated (2/4, the Caffe rule),
  frozen BN (eval mode, affine not trained), ASPP-L: four 3x3 convs 2048 -> classes at rates 6/12/18/24, summed;
  logits resized with align_corners=True.
- deeplabv3plus-mobilenetv2: DeepLabv3+ on torchvision's MobileNetV2 (OS 16), make_parity_fixtures.py's definition,
  whose forward our model matches on imported weights (tests/test_pytorch_parity.cpp); logits resized with
  align_corners=True.
- deeplabv3_mobilenet_v3_large, lraspp_mobilenet_v3_large, fcn_resnet50: torchvision's, whose forward resizes to the
  input (align_corners=False); deeplabv3's image-pooling BN in eval mode in the train step, as above.
"""
import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
except ImportError as e:
    sys.exit("bench_models_pytorch.py needs PyTorch and torchvision (%s): run it with /usr/bin/python3" % e)

THREADS = 2
CLASSES = 21
IGNORE = 255
LAYOUTS = ("nchw", "channels_last")

# Registry name -> (crop side, SGD base lr), as benchmarks/bench_models.cpp (v2 at a low lr: it diverges on random
# labels at 1e-3).
MODELS = {
    "deeplab-v1-largefov": (321, 1e-3),
    "deeplabv3_resnet101": (513, 1e-3),
    "deeplabv2-resnet101": (321, 2.5e-5),
    "deeplabv3plus-mobilenetv2": (513, 1e-3),
    "deeplabv3_mobilenet_v3_large": (513, 1e-3),
    "lraspp_mobilenet_v3_large": (513, 1e-3),
    "fcn_resnet50": (513, 1e-3),
}
# Our models' parameter groups (models/*.cpp): conv weights lr x1 with decay, conv biases lr x2 without decay, the
# classifier's weights x10 and biases x20 (no decay); torchvision DeepLabv3's last conv x1 (bias without decay).
CLASSIFIER = {"deeplab-v1-largefov": ("fc8.", 10, 20), "deeplabv2-resnet101": ("aspp.", 10, 20),
              "deeplabv3_resnet101": ("net.classifier.4.", 1, 1), "deeplabv3plus-mobilenetv2": ("classifier.", 1, 1),
              "deeplabv3_mobilenet_v3_large": ("net.classifier.4.", 1, 1),
              "lraspp_mobilenet_v3_large": ("net.classifier.", 1, 1), "fcn_resnet50": ("net.classifier.4.", 1, 1)}


class LargeFov(nn.Module):
    """DeepLab-v1 LargeFOV exactly as models/vgg_deeplab.cpp builds it (torchvision features.N indices)."""

    def __init__(self, classes):
        super().__init__()
        cfg = [(3, 64, 1), (64, 64, 1), "P2", (64, 128, 1), (128, 128, 1), "P2", (128, 256, 1), (256, 256, 1),
               (256, 256, 1), "P2", (256, 512, 1), (512, 512, 1), (512, 512, 1), "P1", (512, 512, 2), (512, 512, 2),
               (512, 512, 2), "P1"]
        layers = []
        for item in cfg:
            if isinstance(item, str):
                layers.append(nn.MaxPool2d(3, int(item[1]), 1, ceil_mode=True))
            else:
                cin, cout, d = item
                layers += [nn.Conv2d(cin, cout, 3, padding=d, dilation=d), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool5a = nn.AvgPool2d(3, 1, 1)
        self.fc6 = nn.Conv2d(512, 1024, 3, padding=12, dilation=12)
        self.fc7 = nn.Conv2d(1024, 1024, 1)
        self.fc8 = nn.Conv2d(1024, classes, 1)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        h = self.pool5a(self.features(x))
        h = self.drop(F.relu(self.fc6(h), inplace=True))
        h = self.drop(F.relu(self.fc7(h), inplace=True))
        return self.fc8(h)


class DeepLabV2ResNet(nn.Module):
    """DeepLab-v2 ResNet-101 as models/deeplab_v2_resnet.cpp: uniform dilation, frozen BN, ASPP-L summed."""

    def __init__(self, classes):
        super().__init__()
        self.backbone = torchvision.models.resnet101(weights=None, replace_stride_with_dilation=[False, True, True])
        for layer, rate in ((self.backbone.layer3, 2), (self.backbone.layer4, 4)):
            layer[0].conv2.dilation, layer[0].conv2.padding = (rate, rate), (rate, rate)
        self.backbone.fc = nn.Identity()
        for m in self.backbone.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)
        self.aspp = nn.ModuleList(nn.Conv2d(2048, classes, 3, padding=r, dilation=r) for r in (6, 12, 18, 24))

    def train(self, mode=True):
        super().train(mode)
        for m in self.backbone.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()  # frozen statistics
        return self

    def forward(self, x):
        b = self.backbone
        h = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        h = b.layer4(b.layer3(b.layer2(b.layer1(h))))
        out = self.aspp[0](h)
        for conv in self.aspp[1:]:
            out = out + conv(h)
        return out


class TorchvisionSegmentation(nn.Module):
    """One of torchvision's segmentation models (by its builder's name); forward returns logits at the input size
    (align_corners=False)."""

    def __init__(self, builder, classes):
        super().__init__()
        kwargs = {"weights": None, "weights_backbone": None, "num_classes": classes}
        if not builder.startswith("lraspp"):
            kwargs["aux_loss"] = False
        self.net = getattr(torchvision.models.segmentation, builder)(**kwargs)

    def forward(self, x):
        return self.net(x)["out"]


def train_mode(model):
    """model.train(), but the image-pooling branches (torchvision's ASPPPooling) stay in eval mode: their BN sees
    one value per channel at batch 1, which PyTorch rejects; ours does the same in bench_models.cpp."""
    model.train()
    for m in model.modules():
        if isinstance(m, torchvision.models.segmentation.deeplabv3.ASPPPooling):
            m.eval()
    return model


def build(model_name):
    """(module, align_corners or None when the module already resizes to the input)."""
    if model_name == "deeplab-v1-largefov":
        return LargeFov(CLASSES), True
    if model_name in ("deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large",
                      "fcn_resnet50"):
        return TorchvisionSegmentation(model_name, CLASSES), None
    if model_name == "deeplabv2-resnet101":
        return DeepLabV2ResNet(CLASSES), True
    if model_name == "deeplabv3plus-mobilenetv2":
        # The model definition the parity fixtures use (tests/fixtures/make_parity_fixtures.py).
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures"))
        from make_parity_fixtures import DeepLabV3PlusMobileNetV2
        return DeepLabV3PlusMobileNetV2(CLASSES), True
    raise ValueError("unknown model " + model_name)


def calibrate_batch_norms(model, x):
    """Running statistics from one train-mode forward with momentum 1, as bench_models.cpp does: at (0, 1) eval and
    frozen BN normalise nothing and a ResNet's activations grow ~1e5-fold (v2's training diverges to NaN)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    model.train()  # the image-pooling BN stays in eval mode (see train_mode)
    pooling = [m for m in model.modules() if isinstance(m, torchvision.models.segmentation.deeplabv3.ASPPPooling)]
    pooling_bn = {id(bn) for p in pooling for bn in p.modules()}
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.momentum = 1.0
        m.training = id(m) not in pooling_bn
    with torch.no_grad():
        model(x)
    for m, (momentum, training) in zip(bns, saved):
        m.momentum, m.training = momentum, training


def param_groups(model, model_name, lr):
    prefix, weight_mult, bias_mult = CLASSIFIER[model_name]
    groups = {}
    for module_name, m in model.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            mult, decay = 1.0, 5e-4
            if isinstance(m, nn.Conv2d):
                head = (module_name + ".").startswith(prefix)
                if pname == "bias":
                    mult, decay = (bias_mult if head else 2.0), 0.0
                elif head:
                    mult = weight_mult
            groups.setdefault((mult, decay), []).append(p)
    return [{"params": ps, "lr": lr * mult, "weight_decay": decay} for (mult, decay), ps in groups.items()]


# Batch-8 cases as in bench_models.cpp (training runs on batches): named .../<size>/batch:8.
BATCHED = {"deeplab-v1-largefov": 8, "deeplabv2-resnet101": 8}


def case_names():
    names = ["BM_model_%s/%s/%d" % (p, m, s) for m, (s, _) in MODELS.items() for p in ("eval", "train_step")]
    return names + ["BM_model_%s/%s/%d/batch:%d" % (p, m, MODELS[m][0], b) for m, b in BATCHED.items()
                    for p in ("eval", "train_step")]


def parse_case(name):
    """(pass prefix, model name, size, batch) of a case name."""
    parts = name.split("/")
    if len(parts) not in (3, 4) or (len(parts) == 4 and not parts[3].startswith("batch:")):
        sys.exit("bench_models_pytorch.py: %r is not BM_model_<pass>/<model>/<size>[/batch:<n>]" % name)
    batch = int(parts[3][len("batch:"):]) if len(parts) == 4 else 1
    return parts[0], parts[1], int(parts[2]), batch


def default_steps(model_name, which):
    """(warm-up, timed) steps: fewer for the slow ResNet cases, enough for a median elsewhere."""
    if model_name in ("deeplab-v1-largefov", "deeplabv3plus-mobilenetv2", "deeplabv3_mobilenet_v3_large",
                      "lraspp_mobilenet_v3_large"):
        return (2, 9) if which == "eval" else (2, 7)
    return (1, 5) if which == "eval" else (1, 3)


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def prepare_case(name, layout):
    """Builds one case in this process; returns its step function (no step run yet)."""
    prefix, model_name, size, batch = parse_case(name)
    which = "eval" if prefix == "BM_model_eval" else "train"
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model, align_corners = build(model_name)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.empty(batch, 3, size, size).uniform_(-2, 2).contiguous(memory_format=fmt)
    labels = torch.randint(0, CLASSES, (batch, size, size))
    labels.view(-1)[::13] = IGNORE
    calibrate_batch_norms(model, x)

    def logits_at_input(inp):
        out = model(inp)
        if align_corners is not None:
            out = F.interpolate(out, size=(size, size), mode="bilinear", align_corners=align_corners)
        return out

    if which == "eval":
        model.eval()

        def step():
            with torch.no_grad():
                return logits_at_input(x)
    else:
        train_mode(model)
        opt = torch.optim.SGD(param_groups(model, model_name, MODELS[model_name][1]), lr=MODELS[model_name][1],
                              momentum=0.9)

        def step():
            loss = F.cross_entropy(logits_at_input(x), labels, ignore_index=IGNORE)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss
    return step, model_name, which


def run_case(name, layout, repeats):
    """Runs one case in this process; returns its timings and peak RSS."""
    rss_start = rss_mb()
    step, model_name, which = prepare_case(name, layout)
    warmup, timed = default_steps(model_name, which)
    if repeats:
        timed = repeats
    for _ in range(warmup):
        step()
    times = []
    for _ in range(timed):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times,
            "peak_rss_mb": rss_mb(), "rss_after_import_mb": rss_start}


def serve(name, layout):
    """The step server of benchmarks/peers/compare_model_benchmarks.py, as bench_models --serve on our side: builds the case,
    prints "ready", answers each "step" line on stdin with "step <seconds>" (one step run), and "quit" or the end of
    input with "done {json}" (peak RSS). Warm-up steps are the driver's to ask for."""
    rss_start = rss_mb()
    step, _, _ = prepare_case(name, layout)
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command != "step":
            sys.exit("bench_models_pytorch.py --serve: unknown command %r (step, quit)" % command)
        t0 = time.perf_counter()
        step()
        print("step %.9f" % (time.perf_counter() - t0), flush=True)
    print("done " + json.dumps({"max_rss_mb": rss_mb(), "rss_after_import_mb": rss_start}), flush=True)


def run_in_child(name, layout, repeats):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--layout", layout]
    if repeats:
        cmd += ["--repeats", str(repeats)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
    if proc.returncode != 0:
        print("warning: %s (%s) exited with %d" % (name, layout, proc.returncode), file=sys.stderr)
        return None
    return json.loads(proc.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write results here (default: stdout)")
    parser.add_argument("--filter", default="", help="only cases whose name matches this regular expression")
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help="comma-separated: nchw,channels_last")
    parser.add_argument("--repeats", type=int, default=0, help="timed steps per case (default: per model)")
    parser.add_argument("--list", action="store_true", help="list the case names and exit")
    parser.add_argument("--serve", metavar="CASE", help="run one case as a step server (compare_model_benchmarks.py)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--layout", default="nchw", choices=LAYOUTS, help="the layout of --serve")
    args = parser.parse_args()

    if args.serve:
        if args.serve not in case_names():
            sys.exit("bench_models_pytorch.py --serve: no case named %r (--list lists them)" % args.serve)
        serve(args.serve, args.layout)
        return
    if args.child:
        print(json.dumps(run_case(args.child, args.layout, args.repeats)))
        return
    names = [n for n in case_names() if re.search(args.filter, n)]
    if args.list:
        print("\n".join(names))
        return

    results = {}
    for name in names:
        per_layout = {}
        for layout in args.layouts.split(","):
            r = run_in_child(name, layout, args.repeats)
            if r:
                per_layout[layout] = r
                print("%-48s %-13s %8.3f s median, %8.3f s min, peak RSS %7.0f MB" % (
                    name, layout, r["median_s"], r["min_s"], r["peak_rss_mb"]), file=sys.stderr, flush=True)
        if not per_layout:
            continue
        best = min(per_layout, key=lambda k: per_layout[k]["median_s"])
        results[name] = {"s": per_layout[best]["median_s"], "min_s": per_layout[best]["min_s"], "layout": best,
                         "peak_rss_mb": per_layout[best]["peak_rss_mb"], "per_layout": per_layout}

    out = {"meta": {"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": THREADS,
                    "machine": platform.processor() or platform.machine()},
           "cases": results}
    text = json.dumps(out, indent=1, sort_keys=True)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
