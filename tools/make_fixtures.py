#!/usr/bin/python3
"""Writes the PyTorch golden fixtures (inputs, weights, outputs, gradients) that tests/test_golden.cpp compares against.

Run from the repository root with Debian's Python, which has torch 1.13 and numpy (the pyenv `python3` on PATH
has no torch):

    /usr/bin/python3 tools/make_fixtures.py            # rewrites tests/fixtures/ from scratch (not parity/, safetensors/)

This script is the only way fixtures are (re)generated; never edit them by hand. Output is deterministic: every case
seeds torch with its own fixed seed, so adding a case does not change the others.

Layout: tests/fixtures/<case>/<name>.npy. Activations are stored NHWC and conv weights [Cout, KH, KW, Cin] (our
layout); the conversions from PyTorch's NCHW / OIHW happen here. Float arrays are float32, labels int32, op
parameters small int32/float32 vectors (params.npy) so that the test reads them instead of repeating them.
Inputs are drawn in float32; PyTorch then computes in float64 on those exact values, and the results are rounded
to float32, so the fixtures hold the correctly rounded answer and the tests measure only our own fp32 error.
Gradients are d(sum(out * grad_out))/d(input) for the stored random upstream gradient `grad_out` (the loss
cases use the scalar loss itself).
"""
import os
import shutil
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    sys.exit("make_fixtures.py needs PyTorch and NumPy (%s): run it with /usr/bin/python3" % e)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
MANIFEST = []  # (case, name, dtype, shape) for the README
OTHER_GENERATORS = {"parity", "safetensors"}  # sub-folders of ROOT this script leaves alone


def nhwc(t):
    """NCHW (or OIHW) -> NHWC (or [O, KH, KW, I]): the same permutation."""
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t


def nchw(x):
    return x.permute(0, 3, 1, 2)


def save(case, name, value):
    if isinstance(value, torch.Tensor):
        value = value.detach()
        value = nhwc(value).numpy() if value.dim() == 4 else value.numpy()
    value = np.ascontiguousarray(value)
    if value.dtype.kind == "f":
        value = value.astype(np.float32)
    elif value.dtype.kind in "iub":
        value = value.astype(np.int32)
    folder = os.path.join(ROOT, case)
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, name + ".npy"), value)
    MANIFEST.append((case, name, str(value.dtype), value.shape))


def randn(*shape, scale=1.0):
    """float32 samples promoted to float64: the stored float32 input is exactly what PyTorch used."""
    return (torch.randn(*shape, dtype=torch.float32) * scale).double()


def leaf(t):
    return t.clone().requires_grad_(True)


def grads(out, inputs, upstream=None):
    """Gradients of sum(out * upstream) (or of the scalar `out`) with respect to each input."""
    if upstream is None:
        return torch.autograd.grad(out, inputs)
    return torch.autograd.grad(out, inputs, grad_outputs=upstream)


# ---- cases ----

def conv2d_case(case, seed, n, h, w, cin, cout, k, stride, padding, dilation, bias, groups=1):
    torch.manual_seed(seed)
    x = leaf(randn(n, cin, h, w))
    wt = leaf(randn(cout, cin // groups, k, k, scale=(cin // groups * k * k) ** -0.5))
    b = leaf(randn(cout, scale=0.1)) if bias else None
    y = F.conv2d(x, wt, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    gy = randn(*y.shape)
    inputs = [x, wt] + ([b] if bias else [])
    g = grads(y, inputs, gy)
    # groups is stored only when it is not 1, so that the older cases' files stay as they were
    save(case, "params", np.array([stride, padding, dilation, int(bias)] + ([groups] if groups != 1 else []),
                                  dtype=np.int32))
    save(case, "x", x)
    save(case, "weight", wt)
    if bias:
        save(case, "bias", b)
    save(case, "y", y)
    save(case, "grad_y", gy)
    save(case, "grad_x", g[0])
    save(case, "grad_weight", g[1])
    if bias:
        save(case, "grad_bias", g[2])


def batch_norm_case(case, seed, training):
    torch.manual_seed(seed)
    n, c, h, w = 2, 8, 9, 11
    x = leaf(randn(n, c, h, w, scale=2.0) + 0.5)
    weight = leaf(1.0 + randn(c, scale=0.2))
    bias = leaf(randn(c, scale=0.2))
    running_mean = randn(c, scale=0.1)
    running_var = 1.0 + torch.rand(c, dtype=torch.float32).double()
    save(case, "params", np.array([0.1, 1e-5], dtype=np.float32))  # momentum, eps
    save(case, "x", x)
    save(case, "weight", weight)
    save(case, "bias", bias)
    save(case, "running_mean", running_mean)
    save(case, "running_var", running_var)
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training=training, momentum=0.1, eps=1e-5)
    gy = randn(*y.shape)
    gx, gw, gb = grads(y, [x, weight, bias], gy)
    save(case, "y", y)
    save(case, "grad_y", gy)
    save(case, "grad_x", gx)
    save(case, "grad_weight", gw)
    save(case, "grad_bias", gb)
    save(case, "running_mean_out", running_mean)  # updated in place in training mode
    save(case, "running_var_out", running_var)


def pool_case(case, seed, shape, kind, kernel, stride, padding, ceil_mode, count_include_pad=True):
    torch.manual_seed(seed)
    x = leaf(randn(*shape))
    if kind == "max":
        y = F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode)
    else:
        y = F.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    gy = randn(*y.shape)
    (gx,) = grads(y, [x], gy)
    save(case, "params", np.array([kernel, stride, padding, int(ceil_mode), int(count_include_pad)], dtype=np.int32))
    save(case, "x", x)
    save(case, "y", y)
    save(case, "grad_y", gy)
    save(case, "grad_x", gx)


def global_avg_pool_case(case, seed):
    torch.manual_seed(seed)
    x = leaf(randn(2, 8, 9, 11))
    y = F.adaptive_avg_pool2d(x, 1)
    gy = randn(*y.shape)
    (gx,) = grads(y, [x], gy)
    save(case, "x", x)
    save(case, "y", y)
    save(case, "grad_y", gy)
    save(case, "grad_x", gx)


def resize_case(case, seed, out_h, out_w, align_corners):
    torch.manual_seed(seed)
    x = leaf(randn(2, 8, 9, 11))
    y = F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=align_corners)
    gy = randn(*y.shape)
    (gx,) = grads(y, [x], gy)
    save(case, "params", np.array([out_h, out_w, int(align_corners)], dtype=np.int32))
    save(case, "x", x)
    save(case, "y", y)
    save(case, "grad_y", gy)
    save(case, "grad_x", gx)


def softmax_case(case, seed, log):
    torch.manual_seed(seed)
    x = leaf(randn(2, 8, 9, 11, scale=3.0))
    y = F.log_softmax(x, dim=1) if log else F.softmax(x, dim=1)
    gy = randn(*y.shape)
    (gx,) = grads(y, [x], gy)
    save(case, "x", x)
    save(case, "y", y)
    save(case, "grad_y", gy)
    save(case, "grad_x", gx)


def random_labels(n, h, w, classes, ignore_fraction):
    labels = torch.randint(0, classes, (n, h, w))
    labels[torch.rand(n, h, w) < ignore_fraction] = 255
    return labels


def cross_entropy_case(case, seed, weighted):
    torch.manual_seed(seed)
    n, c, h, w = 2, 8, 9, 11
    logits = leaf(randn(n, c, h, w, scale=2.0))
    labels = random_labels(n, h, w, c, 0.2)
    class_weights = (0.25 + torch.rand(c, dtype=torch.float32)).double() if weighted else None
    loss = F.cross_entropy(logits, labels, weight=class_weights, ignore_index=255)
    (glogits,) = grads(loss, [logits])
    save(case, "logits", logits)
    save(case, "labels", labels)
    if weighted:
        save(case, "class_weights", class_weights)
    save(case, "loss", loss.reshape(1))
    save(case, "grad_logits", glogits)


def concat_case(case, seed):
    torch.manual_seed(seed)
    xs = [leaf(randn(2, c, 5, 7)) for c in (3, 1, 4)]
    y = torch.cat(xs, dim=1)
    gy = randn(*y.shape)
    g = grads(y, xs, gy)
    for i, (x, gx) in enumerate(zip(xs, g)):
        save(case, "x%d" % i, x)
        save(case, "grad_x%d" % i, gx)
    save(case, "y", y)
    save(case, "grad_y", gy)


def argmax_case(case, seed):
    torch.manual_seed(seed)
    x = randn(2, 21, 9, 11)
    save(case, "x", x)
    save(case, "y", x.argmax(dim=1))


def deeplab_stack_case(case, seed):
    """conv3x3 rate 12 + BN(train) + ReLU + maxpool 3x3/2/1 ceil + conv1x1 -> 5 classes + bilinear
    (align_corners) to the label size + cross-entropy with ignore label 255: a miniature DeepLab-LargeFOV step."""
    torch.manual_seed(seed)
    n, cin, h, w, mid, classes = 2, 4, 17, 19, 8, 5
    x = leaf(randn(n, cin, h, w))
    w1 = leaf(randn(mid, cin, 3, 3, scale=(cin * 9) ** -0.5))
    b1 = leaf(randn(mid, scale=0.1))
    bn_w = leaf(1.0 + randn(mid, scale=0.2))
    bn_b = leaf(randn(mid, scale=0.2))
    running_mean = torch.zeros(mid, dtype=torch.float64)
    running_var = torch.ones(mid, dtype=torch.float64)
    w2 = leaf(randn(classes, mid, 1, 1, scale=mid ** -0.5))
    b2 = leaf(randn(classes, scale=0.1))
    labels = random_labels(n, h, w, classes, 0.15)

    a = F.conv2d(x, w1, b1, padding=12, dilation=12)
    a = F.batch_norm(a, running_mean, running_var, bn_w, bn_b, training=True, momentum=0.1, eps=1e-5)
    a = F.relu(a)
    a = F.max_pool2d(a, 3, 2, 1, ceil_mode=True)
    logits_small = F.conv2d(a, w2, b2)
    logits = F.interpolate(logits_small, size=(h, w), mode="bilinear", align_corners=True)
    loss = F.cross_entropy(logits, labels, ignore_index=255)
    g = grads(loss, [x, w1, b1, bn_w, bn_b, w2, b2])

    for name, t in [("x", x), ("conv1_weight", w1), ("conv1_bias", b1), ("bn_weight", bn_w), ("bn_bias", bn_b),
                    ("conv2_weight", w2), ("conv2_bias", b2), ("labels", labels)]:
        save(case, name, t)
    save(case, "logits_small", logits_small)
    save(case, "logits", logits)
    save(case, "loss", loss.reshape(1))
    save(case, "running_mean_out", running_mean)
    save(case, "running_var_out", running_var)
    for name, gt in zip(["x", "conv1_weight", "conv1_bias", "bn_weight", "bn_bias", "conv2_weight", "conv2_bias"], g):
        save(case, "grad_" + name, gt)


def activation_case(case, seed, fn, scale, shift, kinks):
    """A MobileNet activation on values spread over every piece, with the kinks themselves planted at fixed
    positions (PyTorch's gradient conventions there are what the test checks)."""
    torch.manual_seed(seed)
    x = (randn(2, 6, 5, 7, scale=scale) + shift).float().double()  # the shifted input, exactly as stored
    flat = x.view(-1)
    for i, k in enumerate(kinks):
        flat[7 * i + 3] = k
    x = leaf(x)
    y = fn(x)
    gy = randn(*y.shape)
    (gx,) = grads(y, [x], gy)
    save(case, "x", x)
    save(case, "y", y)
    save(case, "grad_y", gy)
    save(case, "grad_x", gx)


def scale_channels_case(case, seed):
    """Squeeze-and-excitation's rescale: x [N, C, H, W] times s [N, C, 1, 1] (stored NHWC: [N, 1, 1, C])."""
    torch.manual_seed(seed)
    x = leaf(randn(2, 6, 5, 7))
    s = leaf(torch.rand(2, 6, 1, 1, dtype=torch.float32).double())
    y = x * s
    gy = randn(*y.shape)
    gx, gs = grads(y, [x, s], gy)
    save(case, "x", x)
    save(case, "s", s)
    save(case, "y", y)
    save(case, "grad_y", gy)
    save(case, "grad_x", gx)
    save(case, "grad_s", gs)


def write_readme():
    lines = ["# Golden fixtures", "",
             "Generated by `/usr/bin/python3 tools/make_fixtures.py` (PyTorch %s); do not edit by hand." % torch.__version__,
             "Activations NHWC, conv weights [Cout, KH, KW, Cin]; see the script for what each array is.", "",
             "| case | array | dtype | shape |", "|---|---|---|---|"]
    for case, name, dtype, shape in MANIFEST:
        lines.append("| %s | %s | %s | %s |" % (case, name, dtype, "x".join(map(str, shape)) or "scalar"))
    with open(os.path.join(ROOT, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    torch.set_default_dtype(torch.float64)
    # From scratch, except the folders that other scripts write (make_parity_fixtures.py, make_safetensors_fixtures.py).
    os.makedirs(ROOT, exist_ok=True)
    for entry in os.listdir(ROOT):
        path = os.path.join(ROOT, entry)
        if entry in OTHER_GENERATORS:
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)

    # conv2d: name, seed, n, h, w, cin, cout, k, stride, padding, dilation, bias
    conv2d_case("conv2d_3x3_stride2", 1, 2, 9, 11, 8, 6, 3, 2, 1, 1, True)
    conv2d_case("conv2d_3x3_dilation2", 2, 2, 9, 11, 8, 6, 3, 1, 2, 2, False)
    conv2d_case("conv2d_3x3_dilation12", 3, 1, 27, 29, 4, 5, 3, 1, 12, 12, True)
    conv2d_case("conv2d_3x3_dilation12_nobias", 4, 2, 13, 15, 3, 4, 3, 1, 12, 12, False)
    conv2d_case("conv2d_1x1", 5, 2, 9, 11, 8, 6, 1, 1, 0, 1, True)
    conv2d_case("conv2d_5x5_stride2_dilation2_odd", 6, 1, 15, 13, 3, 5, 5, 2, 3, 2, True)
    # grouped: depthwise (MobileNet's 3x3, stride 2 and atrous), depthwise with multiplier 2, two groups
    conv2d_case("conv2d_depthwise_3x3_stride2", 7, 2, 9, 11, 8, 8, 3, 2, 1, 1, False, groups=8)
    conv2d_case("conv2d_depthwise_3x3_dilation4", 8, 1, 15, 13, 6, 6, 3, 1, 4, 4, True, groups=6)
    conv2d_case("conv2d_depthwise_multiplier2", 9, 2, 7, 8, 3, 6, 3, 1, 1, 1, True, groups=3)
    conv2d_case("conv2d_groups2", 10, 2, 7, 9, 4, 6, 3, 1, 2, 2, True, groups=2)

    batch_norm_case("batch_norm_train", 10, training=True)
    batch_norm_case("batch_norm_eval", 11, training=False)

    # pooling: name, seed, NCHW shape, kind, kernel, stride, padding, ceil_mode[, count_include_pad]
    pool_case("max_pool2d_3x3_s2_p1_ceil", 20, (2, 8, 10, 11), "max", 3, 2, 1, True)
    pool_case("max_pool2d_3x3_s1_p1", 21, (2, 8, 9, 11), "max", 3, 1, 1, False)
    pool_case("avg_pool2d_3x3_s1_p1", 22, (2, 8, 9, 11), "avg", 3, 1, 1, False, True)
    pool_case("avg_pool2d_3x3_s2_p1_ceil", 23, (2, 8, 10, 11), "avg", 3, 2, 1, True, True)
    pool_case("avg_pool2d_3x3_s2_p1_ceil_exclude_pad", 24, (2, 8, 10, 11), "avg", 3, 2, 1, True, False)
    global_avg_pool_case("global_avg_pool", 25)

    resize_case("resize_up_align_corners", 30, 17, 21, True)
    resize_case("resize_up_half_pixel", 31, 17, 21, False)
    resize_case("resize_down_align_corners", 32, 5, 6, True)
    resize_case("resize_down_half_pixel", 33, 5, 6, False)
    resize_case("resize_up_uneven_half_pixel", 34, 20, 13, False)

    softmax_case("softmax", 40, log=False)
    softmax_case("log_softmax", 41, log=True)
    cross_entropy_case("cross_entropy_ignore", 42, weighted=False)
    cross_entropy_case("cross_entropy_weighted", 43, weighted=True)

    concat_case("concat_channels", 50)
    argmax_case("argmax_channels", 51)

    deeplab_stack_case("deeplab_stack", 60)

    # MobileNet activations: name, seed, function, scale, shift, kinks planted in x
    activation_case("relu6", 70, F.relu6, 4.0, 2.0, [0.0, 6.0, -1.0, 7.0])
    activation_case("hardsigmoid", 71, F.hardsigmoid, 3.0, 0.0, [-3.0, 3.0, 0.0])
    # Not x = 3 for hardswish: there PyTorch's vectorised CPU path gives gradient 1 and its scalar and CUDA paths
    # 3/2 (ours), so the answer depends on where the element falls; tests/test_activations.cpp checks that point.
    activation_case("hardswish", 72, F.hardswish, 3.0, 0.0, [-3.0, 0.0])
    scale_channels_case("scale_channels", 73)
    write_readme()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    print("wrote %d arrays, %.1f KB, to %s" % (len(MANIFEST), total / 1024.0, os.path.normpath(ROOT)))


if __name__ == "__main__":
    main()
