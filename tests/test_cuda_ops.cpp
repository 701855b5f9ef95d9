// Every op on CUDA against the CPU kernel (the oracle): forward outputs and the gradients of a random projection of
// them, on random inputs, f32 (and f64 where the path differs). Tolerances are relative to the largest reference
// element: f32 sums of up to a few thousand products land near 1e-6, so 1e-4 (5e-4 for the long pixel sums of conv
// backward-weight and batch-norm statistics) catches any wrong index while allowing reordered accumulation; f64
// cases use 1e-10. Skips with a reason when no GPU is visible (or the build has no CUDA). The gradient checks
// themselves live in the CPU tests and are not repeated here.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/atrous.h"
#include "core/cuda_runtime.h"
#include "models/tiny_deeplab.h"
#include "solvers/sgd.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;
using atrous::testing::same_bits;

#define REQUIRE_GPU() ATROUS_REQUIRE_CUDA()

namespace {

const Device kGpu = Device::cuda(0);

// |a - b| <= tol * max(1, max |b|) everywhere; NaN never passes. Reports the worst element.
void expect_matches(const Tensor& gpu, const Tensor& cpu, double tol, const std::string& what) {
  ASSERT_TRUE(gpu.defined() && cpu.defined()) << what << ": undefined tensor";
  ASSERT_TRUE(gpu.device().is_cuda()) << what << ": result left the GPU: " << gpu.description();
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  ASSERT_EQ(gpu.dtype(), cpu.dtype()) << what;
  const auto a = gpu.to_double_vector(), b = cpu.to_double_vector();
  double scale = 1.0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  double worst = 0.0;
  size_t worst_at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::abs(a[i] - b[i]);
    if (!(err <= worst) || std::isnan(a[i]) != std::isnan(b[i])) {
      worst = std::isnan(err) ? INFINITY : err;
      worst_at = i;
    }
  }
  EXPECT_LE(worst, tol * scale) << what << ": worst element " << worst_at << " is " << a[worst_at] << " on CUDA, "
                                << b[worst_at] << " on CPU (tolerance " << tol << " x " << scale << ")";
}

Tensor random(const Shape& shape, Generator& gen, DType dtype = DType::f32) {
  return Tensor::uniform(shape, -1.0, 1.0, gen, dtype);
}

// Runs `op` on CPU leaves and on CUDA copies of them, compares the outputs, then back-propagates
// sum(output * R) with the same random R on both devices and compares every input's gradient.
void compare_op(const std::string& what, const std::vector<Tensor>& cpu_inputs,
                const std::function<Tensor(const std::vector<Tensor>&)>& op, double tol, double grad_tol) {
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : cpu_inputs) {
    const bool grad = is_floating(t.dtype());
    cpu.push_back(t.detach().clone());
    gpu.push_back(t.to(kGpu));
    if (grad) {
      cpu.back().set_requires_grad(true);
      gpu.back().set_requires_grad(true);
    }
  }
  Tensor y_cpu = op(cpu), y_gpu = op(gpu);
  expect_matches(y_gpu, y_cpu, tol, what + " forward");
  if (!is_floating(y_cpu.dtype()) || !y_cpu.requires_grad()) return;
  Generator gen(99);
  Tensor r = random(y_cpu.shape(), gen, y_cpu.dtype());
  sum(mul(y_cpu, r)).backward();
  sum(mul(y_gpu, r.to(kGpu))).backward();
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].requires_grad()) continue;
    ASSERT_EQ(gpu[i].grad().defined(), cpu[i].grad().defined()) << what << " input " << i;
    if (cpu[i].grad().defined()) {
      expect_matches(gpu[i].grad(), cpu[i].grad(), grad_tol, what + " grad " + std::to_string(i));
    }
  }
}

}  // namespace

TEST(CudaOps, Elementwise) {
  REQUIRE_GPU();
  Generator gen(1);
  const Shape s{2, 5, 7, 3};
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-6 : 1e-12;
    std::vector<Tensor> ab{random(s, gen, dt), random(s, gen, dt)};
    compare_op("add", ab, [](const auto& t) { return add(t[0], t[1]); }, tol, tol);
    compare_op("sub", ab, [](const auto& t) { return sub(t[0], t[1]); }, tol, tol);
    compare_op("mul", ab, [](const auto& t) { return mul(t[0], t[1]); }, tol, tol);
    compare_op("maximum", ab, [](const auto& t) { return maximum(t[0], t[1]); }, tol, tol);
    compare_op("maximum ties", {ab[0], ab[0]}, [](const auto& t) { return maximum(t[0], t[1]); }, tol, tol);
    compare_op("scale", {ab[0]}, [](const auto& t) { return scale(t[0], -2.5); }, tol, tol);
    compare_op("relu", {ab[0]}, [](const auto& t) { return relu(t[0]); }, tol, tol);
    compare_op("add_relu", ab, [](const auto& t) { return add_relu(t[0], t[1]); }, tol, tol);
    compare_op("sum", {ab[0]}, [](const auto& t) { return sum(t[0]); }, tol, tol);
    compare_op("mean", {ab[0]}, [](const auto& t) { return mean(t[0]); }, tol, tol);
  }
  // A sum long enough to need both reduction stages.
  compare_op("sum 1M", {random({1 << 20}, gen)}, [](const auto& t) { return sum(t[0]); }, 1e-6, 1e-6);
}

TEST(CudaOps, MobileNetActivationsAndScaleChannels) {
  REQUIRE_GPU();
  Generator gen(12);
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-6 : 1e-12;
    // Values over every piece, with each kink (-3, 0, 3, 6) planted exactly: the edge conventions must agree too.
    std::vector<double> v = Tensor::uniform({2, 5, 7, 13}, -5.0, 8.0, gen, DType::f64).to_double_vector();
    const double kinks[] = {-3.0, 0.0, 3.0, 6.0};
    for (size_t i = 0; i < v.size(); i += 11) v[i] = kinks[(i / 11) % 4];
    const Tensor x = Tensor::from_vector<double>(v, {2, 5, 7, 13}).to(dt);
    compare_op("relu6", {x}, [](const auto& t) { return relu6(t[0]); }, tol, tol);
    compare_op("hardsigmoid", {x}, [](const auto& t) { return hardsigmoid(t[0]); }, tol, tol);
    compare_op("hardswish", {x}, [](const auto& t) { return hardswish(t[0]); }, tol, tol);
    compare_op("sigmoid", {x}, [](const auto& t) { return sigmoid(t[0]); }, tol, tol);
    // scale_channels (the scale gradient sums 35 products per channel in double on both devices), and 1x1 images
    // with more channels than a warp.
    compare_op("scale_channels", {random({2, 5, 7, 13}, gen, dt), random({2, 1, 1, 13}, gen, dt)},
               [](const auto& t) { return scale_channels(t[0], t[1]); }, tol, tol);
    compare_op("scale_channels 1x1", {random({3, 1, 1, 40}, gen, dt), random({3, 1, 1, 40}, gen, dt)},
               [](const auto& t) { return scale_channels(t[0], t[1]); }, tol, tol);
  }
  // Only one input needing a gradient: the backward saves just what that gradient reads.
  const Tensor x = random({2, 4, 3, 6}, gen), s = random({2, 1, 1, 6}, gen), r = random({2, 4, 3, 6}, gen);
  for (int which = 0; which < 2; ++which) {
    Tensor xc = x.clone(), sc = s.clone(), xg = x.to(kGpu), sg = s.to(kGpu);
    (which == 0 ? xc : sc).set_requires_grad(true);
    (which == 0 ? xg : sg).set_requires_grad(true);
    scale_channels(xc, sc).backward(r);
    scale_channels(xg, sg).backward(r.to(kGpu));
    expect_matches((which == 0 ? xg : sg).grad(), (which == 0 ? xc : sc).grad(), 1e-6,
                   which == 0 ? "scale_channels grad x alone" : "scale_channels grad s alone");
  }
}

TEST(CudaOps, AxpyAccumulatesInPlace) {
  REQUIRE_GPU();
  Generator gen(2);
  Tensor a = random({1000}, gen), b = random({1000}, gen);
  Tensor a_gpu = a.to(kGpu);
  axpy_(a, 0.75, b);
  axpy_(a_gpu, 0.75, b.to(kGpu));
  expect_matches(a_gpu, a, 1e-6, "axpy_");
}

TEST(CudaOps, MixedDevicesAreAnErrorNamingOpAndDevices) {
  REQUIRE_GPU();
  Tensor a = Tensor::ones({4}), b = Tensor::ones({4}, DType::f32, kGpu);
  expect_error([&] { add(a, b); }, {"add", "cpu", "cuda:0"});
  Tensor x = Tensor::ones({1, 5, 5, 2}, DType::f32, kGpu), w = Tensor::ones({3, 3, 3, 2});
  expect_error([&] { conv2d(x, w, Tensor()); }, {"conv2d", "cuda:0", "cpu"});
  Tensor logits = Tensor::ones({1, 2, 2, 3}, DType::f32, kGpu), labels = Tensor::zeros({1, 2, 2}, DType::i32);
  expect_error([&] { softmax_cross_entropy(logits, labels); }, {"softmax_cross_entropy", "cuda:0", "cpu"});
}

TEST(CudaOps, ConcatAndSplit) {
  REQUIRE_GPU();
  Generator gen(3);
  std::vector<Tensor> pieces{random({2, 4, 5, 3}, gen), random({2, 4, 5, 5}, gen), random({2, 4, 5, 2}, gen)};
  compare_op("concat_channels", pieces, [](const auto& t) { return concat_channels(t); }, 0.0, 0.0);
  Tensor ints = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor joined = concat_channels({ints.to(kGpu), ints.to(kGpu)});
  EXPECT_EQ(joined.to_double_vector(), concat_channels({ints, ints}).to_double_vector());
}

TEST(CudaOps, Argmax) {
  REQUIRE_GPU();
  Generator gen(4);
  Tensor x = random({2, 9, 11, 21}, gen);
  EXPECT_EQ(argmax_channels(x.to(kGpu)).to_double_vector(), argmax_channels(x).to_double_vector());
  // Ties pick the lowest index; NaN counts as the largest.
  Tensor t = Tensor::from_vector<float>({1, 3, 3, 0, NAN, 2, 5, 5, 5}, {3, 3});
  EXPECT_EQ(argmax_channels(t.to(kGpu)).to_double_vector(), argmax_channels(t).to_double_vector());
}

TEST(CudaOps, SoftmaxAndLogSoftmax) {
  REQUIRE_GPU();
  Generator gen(5);
  for (int64_t classes : {1, 21, 45}) {  // one class, fewer and more classes than a warp has lanes
    Tensor x = Tensor::uniform({2, 4, 5, classes}, -8.0, 8.0, gen);
    compare_op("softmax", {x}, [](const auto& t) { return softmax(t[0]); }, 1e-5, 1e-5);
    compare_op("log_softmax", {x}, [](const auto& t) { return log_softmax(t[0]); }, 1e-5, 1e-5);
  }
  Tensor x64 = random({3, 2, 2, 21}, gen, DType::f64);
  compare_op("softmax f64", {x64}, [](const auto& t) { return softmax(t[0]); }, 1e-12, 1e-12);
}

TEST(CudaOps, SoftmaxCrossEntropyWithIgnoreLabel) {
  REQUIRE_GPU();
  Generator gen(6);
  const int64_t C = 21;
  Tensor logits = Tensor::uniform({2, 6, 7, C}, -5.0, 5.0, gen);
  std::vector<int32_t> ids(2 * 6 * 7);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = (i % 5 == 0) ? 255 : static_cast<int32_t>((i * 7) % C);
  Tensor labels = Tensor::from_vector<int32_t>(ids, {2, 6, 7});
  std::vector<uint8_t> ids8(ids.begin(), ids.end());
  Tensor labels8 = Tensor::from_vector<uint8_t>(ids8, {2, 6, 7});
  Tensor weights = Tensor::uniform({C}, 0.5, 2.0, gen);
  compare_op("xent i32", {logits, labels}, [](const auto& t) { return softmax_cross_entropy(t[0], t[1]); }, 1e-5,
             1e-5);
  compare_op("xent u8", {logits, labels8}, [](const auto& t) { return softmax_cross_entropy(t[0], t[1]); }, 1e-5,
             1e-5);
  compare_op("xent weighted", {logits, labels, weights},
             [](const auto& t) {
               CrossEntropyParams p;
               p.class_weights = t[2];
               return softmax_cross_entropy(t[0], t[1], p);
             },
             1e-5, 1e-5);
  compare_op("xent f64", {logits.to(DType::f64), labels},
             [](const auto& t) { return softmax_cross_entropy(t[0], t[1]); }, 1e-12, 1e-12);
  // Everything ignored: loss 0 and zero gradient on both devices.
  Tensor all_void = Tensor::full({2, 6, 7}, 255, DType::i32);
  compare_op("xent all ignored", {logits, all_void}, [](const auto& t) { return softmax_cross_entropy(t[0], t[1]); },
             0.0, 0.0);
  // An invalid label is reported with its value and position, as on the CPU, at the next synchronisation with the
  // host (the loss itself does not wait for the device): reading the loss, or any later copy to the host.
  ids[17] = 30;
  Tensor bad = Tensor::from_vector<int32_t>(ids, {2, 6, 7}).to(kGpu);
  expect_error([&] { softmax_cross_entropy(logits.to(kGpu), bad).item<float>(); }, {"label 30", "n=0", "h=2", "w=3"});
  softmax_cross_entropy(logits.to(kGpu), bad);
  expect_error([&] { Tensor::ones({2}, DType::f32, kGpu).to_double_vector(); }, {"softmax_cross_entropy", "label 30"});
  EXPECT_NO_THROW(Tensor::ones({2}, DType::f32, kGpu).to_double_vector()) << "a reported check is cleared";
}

TEST(CudaOps, DropoutMaskMatchesCpuBitForBit) {
  REQUIRE_GPU();
  Generator data(7);
  Tensor x = random({3, 17, 19, 8}, data);
  for (double p : {0.1, 0.5, 1.0}) {
    Generator g_cpu(42), g_gpu(42);
    Tensor xc = x.clone().set_requires_grad(true), xg = x.to(kGpu).set_requires_grad(true);
    Tensor yc = dropout(xc, p, true, g_cpu), yg = dropout(xg, p, true, g_gpu);
    EXPECT_TRUE(same_bits(yg.to(Device::cpu()), yc)) << "p = " << p;
    EXPECT_EQ(g_cpu.offset(), g_gpu.offset());
    Tensor r = random(x.shape(), data);
    sum(mul(yc, r)).backward();
    sum(mul(yg, r.to(kGpu))).backward();
    EXPECT_TRUE(same_bits(xg.grad().to(Device::cpu()), xc.grad())) << "p = " << p;
  }
}

TEST(CudaOps, ResizeBilinearBothAlignModes) {
  REQUIRE_GPU();
  Generator gen(8);
  struct Case {
    Shape in;
    int64_t out_h, out_w;
  };
  const std::vector<Case> cases{{{2, 5, 7, 3}, 17, 13},   // upsampling by non-integer factors
                                {{1, 17, 13, 4}, 6, 5},   // downsampling
                                {{1, 9, 9, 2}, 65, 65},   // DeepLab's x8 logit upsampling, small
                                {{1, 4, 6, 3}, 4, 6},     // identity size
                                {{1, 5, 4, 2}, 1, 1}};    // a single output pixel
  for (const Case& c : cases) {
    for (bool align : {false, true}) {
      const std::string what = "resize " + shape_str(c.in) + " -> " + std::to_string(c.out_h) + "x" +
                               std::to_string(c.out_w) + (align ? " align_corners" : "");
      compare_op(what, {random(c.in, gen)},
                 [&](const auto& t) { return resize_bilinear(t[0], ResizeParams::to_size(c.out_h, c.out_w, align)); },
                 1e-5, 1e-5);
    }
  }
  compare_op("resize f64", {random({1, 6, 5, 3}, gen, DType::f64)},
             [](const auto& t) { return resize_bilinear(t[0], ResizeParams::to_size(11, 9, false)); }, 1e-12, 1e-12);
}

TEST(CudaOps, Pooling) {
  REQUIRE_GPU();
  Generator gen(9);
  Tensor x = random({2, 11, 10, 5}, gen);
  const Pool2dParams overlapping = Pool2dParams{}.with_kernel(3).with_stride(2).with_padding(1);
  const std::vector<Pool2dParams> windows{overlapping, Pool2dParams(overlapping).with_ceil_mode(true),
                                          Pool2dParams{}.with_kernel(2).with_stride(2),
                                          Pool2dParams{}.with_kernel(3).with_stride(1).with_padding(1)};
  for (size_t i = 0; i < windows.size(); ++i) {
    const Pool2dParams p = windows[i];
    const std::string id = " window " + std::to_string(i);
    compare_op("max_pool2d" + id, {x}, [&](const auto& t) { return max_pool2d(t[0], p); }, 0.0, 1e-6);
    for (bool include_pad : {true, false}) {
      const Pool2dParams q = Pool2dParams(p).with_count_include_pad(include_pad);
      compare_op("avg_pool2d" + id + (include_pad ? " include_pad" : ""), {x},
                 [&](const auto& t) { return avg_pool2d(t[0], q); }, 1e-6, 1e-6);
    }
  }
  compare_op("global_avg_pool", {x}, [](const auto& t) { return global_avg_pool(t[0]); }, 1e-6, 1e-6);
  // Equal values everywhere: the first pixel of each window must win on both devices.
  Tensor flat = Tensor::ones({1, 6, 6, 2});
  compare_op("max_pool2d ties", {flat},
             [](const auto& t) { return max_pool2d(t[0], Pool2dParams{}.with_kernel(3).with_stride(2)); }, 0.0, 0.0);
}

TEST(CudaOps, BatchNormTrainEvalFrozen) {
  REQUIRE_GPU();
  Generator gen(10);
  // 33 channels cross a 32-channel block edge (scalar path); 32 channels take the float4 path in f32.
  for (int64_t C : {33, 32}) {
    for (DType dt : {DType::f32, DType::f64}) {
      const double tol = dt == DType::f32 ? 5e-4 : 1e-10;
      // A mean far from zero checks the shifted accumulation.
      const Shape shape{4, 9, 10, C};
      Tensor x = add(scale(random(shape, gen, dt), 3.0), Tensor::full(shape, 20.0, dt));
      Tensor w = Tensor::uniform({C}, 0.5, 1.5, gen, dt), b = random({C}, gen, dt);
      for (BatchNormMode mode : {BatchNormMode::Train, BatchNormMode::Eval, BatchNormMode::Frozen}) {
        Tensor rm_cpu = Tensor::uniform({C}, 19.0, 21.0, gen, dt), rv_cpu = Tensor::uniform({C}, 5.0, 12.0, gen, dt);
        Tensor rm_gpu = rm_cpu.to(kGpu), rv_gpu = rv_cpu.to(kGpu);
        BatchNormParams params;
        params.mode = mode;
        const std::string what = std::string("batch_norm C=") + std::to_string(C) + " " + dtype_name(dt) +
                                 " mode " + std::to_string(int(mode));
        compare_op(what, {x, w, b},
                   [&](const auto& t) {
                     const bool gpu = t[0].device().is_cuda();
                     return batch_norm(t[0], t[1], t[2], gpu ? rm_gpu : rm_cpu, gpu ? rv_gpu : rv_cpu, params);
                   },
                   tol, tol);
        expect_matches(rm_gpu, rm_cpu, tol, what + " running_mean");
        expect_matches(rv_gpu, rv_cpu, tol, what + " running_var");
      }
    }
  }
  // No affine parameters and no running statistics.
  Tensor x = random({2, 3, 4, 7}, gen);
  compare_op("batch_norm plain", {x},
             [](const auto& t) { return batch_norm(t[0], Tensor(), Tensor(), Tensor(), Tensor()); }, 5e-4, 5e-4);
}

TEST(CudaOps, Conv2dForwardAndBackward) {
  REQUIRE_GPU();
  Generator gen(11);
  struct Case {
    const char* name;
    Shape x, w;
    Conv2dParams p;
    bool bias;
  };
  const std::vector<Case> cases{
      {"3x3 pad 1", {2, 9, 8, 5}, {7, 3, 3, 5}, Conv2dParams{}.with_padding(1), true},
      {"3x3 dilation 2", {1, 12, 11, 6}, {9, 3, 3, 6}, Conv2dParams{}.with_padding(2).with_dilation(2), false},
      {"3x3 dilation 4 no pad", {1, 13, 14, 3}, {4, 3, 3, 3}, Conv2dParams{}.with_dilation(4), true},
      {"3x3 stride 2", {2, 11, 10, 4}, {6, 3, 3, 4}, Conv2dParams{}.with_stride(2).with_padding(1), true},
      {"7x7 stride 2 (stem)", {1, 19, 17, 3}, {8, 7, 7, 3}, Conv2dParams{}.with_stride(2).with_padding(3), false},
      {"1x1 (cuBLAS)", {2, 6, 7, 20}, {70, 1, 1, 20}, Conv2dParams{}, true},
      {"1x1 stride 2", {2, 7, 6, 9}, {5, 1, 1, 9}, Conv2dParams{}.with_stride(2), false},
      {"wide 3x3 (several tiles)", {1, 10, 9, 70}, {130, 3, 3, 70}, Conv2dParams{}.with_padding(1), true},
      {"many pixels (split backward-weight)", {2, 48, 40, 8}, {6, 3, 3, 8},
       Conv2dParams{}.with_padding(2).with_dilation(2), true},
      {"stride 3 dilation 2", {1, 16, 15, 4}, {5, 3, 3, 4},
       Conv2dParams{}.with_stride(3).with_padding(1).with_dilation(2), false},
  };
  for (const Case& c : cases) {
    std::vector<Tensor> in{random(c.x, gen), random(c.w, gen), random({c.w[0]}, gen)};
    if (!c.bias) in.pop_back();
    const Conv2dParams p = c.p;
    auto op = [p](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), p); };
    compare_op(std::string("conv2d ") + c.name, in, op, 1e-5, 5e-5);
  }
  // f64: the same kernels, a different instantiation.
  std::vector<Tensor> in{random({1, 8, 9, 4}, gen, DType::f64), random({5, 3, 3, 4}, gen, DType::f64),
                         random({5}, gen, DType::f64)};
  compare_op("conv2d f64 dilated", in,
             [](const auto& t) { return conv2d(t[0], t[1], t[2], Conv2dParams{}.with_padding(2).with_dilation(2)); },
             1e-12, 1e-12);
  std::vector<Tensor> in1{random({1, 5, 4, 6}, gen, DType::f64), random({3, 1, 1, 6}, gen, DType::f64)};
  compare_op("conv2d f64 1x1", in1, [](const auto& t) { return conv2d(t[0], t[1], Tensor()); }, 1e-12, 1e-12);
}

// tf32 (selected explicitly): the tensor-core kernel and cuBLAS's tf32 mode. Inputs lose 13 mantissa bits, so the
// tolerance is 5e-3 of the largest element instead of 1e-5; a wrong index would still be off by O(1).
// The fused inference op runs its three steps in turn on CUDA; the CPU fuses them.
TEST(CudaOps, Conv2dBnReluMatchesTheFusedCpuOp) {
  REQUIRE_GPU();
  Generator gen(31);
  NoGradGuard no_grad;
  const Tensor x = random({2, 9, 8, 5}, gen), w = random({6, 3, 3, 5}, gen), b = random({6}, gen);
  RunningBatchNorm bn{random({6}, gen), random({6}, gen), random({6}, gen),
                      Tensor::uniform({6}, 0.2, 2.0, gen), 1e-3};
  const RunningBatchNorm bn_gpu{bn.weight.to(kGpu), bn.bias.to(kGpu), bn.running_mean.to(kGpu),
                                bn.running_var.to(kGpu), bn.eps};
  const Conv2dParams p = Conv2dParams().with_padding(2).with_dilation(2);
  for (bool relu_after : {true, false}) {
    expect_matches(conv2d_bn_relu(x.to(kGpu), w.to(kGpu), b.to(kGpu), p, &bn_gpu, relu_after),
                   conv2d_bn_relu(x, w, b, p, &bn, relu_after), 1e-4, relu_after ? "with ReLU" : "without ReLU");
  }
}

TEST(CudaOps, Conv2dTf32WhenSelected) {
  REQUIRE_GPU();
  struct Tf32Scope {
    Tf32Scope() { cuda::set_tf32_convolutions(true); }
    ~Tf32Scope() { cuda::set_tf32_convolutions(false); }
  } scope;
  ASSERT_TRUE(cuda::tf32_convolutions());
  Generator gen(16);
  struct Case {
    const char* name;
    Shape x, w;
    Conv2dParams p;
  };
  const std::vector<Case> cases{
      {"3x3 dilation 2, edge tiles", {2, 13, 11, 37}, {70, 3, 3, 37}, Conv2dParams{}.with_padding(2).with_dilation(2)},
      {"3x3 stride 2", {1, 17, 16, 20}, {24, 3, 3, 20}, Conv2dParams{}.with_stride(2).with_padding(1)},
      {"many pixels (split backward-weight)", {2, 48, 40, 8}, {6, 3, 3, 8}, Conv2dParams{}.with_padding(1)},
      {"1x1 (cuBLAS tf32)", {2, 9, 7, 64}, {96, 1, 1, 64}, Conv2dParams{}},
  };
  for (const Case& c : cases) {
    std::vector<Tensor> in{random(c.x, gen), random(c.w, gen), random({c.w[0]}, gen)};
    const Conv2dParams p = c.p;
    compare_op(std::string("conv2d tf32 ") + c.name, in, [p](const auto& t) { return conv2d(t[0], t[1], t[2], p); },
               5e-3, 5e-3);
  }
}

TEST(CudaOps, BackwardPassesAreDeterministic) {
  REQUIRE_GPU();
  Generator gen(12);
  Tensor x = random({2, 40, 36, 8}, gen).to(kGpu).set_requires_grad(true);
  Tensor w = random({6, 3, 3, 8}, gen).to(kGpu).set_requires_grad(true);
  Tensor r = random({2, 80, 72, 6}, gen).to(kGpu);
  auto run = [&] {
    x.zero_grad();
    w.zero_grad();
    Tensor y = conv2d(x, w, Tensor(), Conv2dParams{}.with_padding(2).with_dilation(2));
    y = batch_norm(y, Tensor(), Tensor(), Tensor(), Tensor());
    y = resize_bilinear(y, ResizeParams::to_size(80, 72, false));
    sum(mul(y, r)).backward();
    return std::make_pair(x.grad().to(Device::cpu()), w.grad().to(Device::cpu()));
  };
  const auto first = run(), second = run();
  EXPECT_TRUE(same_bits(first.first, second.first));
  EXPECT_TRUE(same_bits(first.second, second.second));
}

TEST(CudaOps, TinyDeepLabTrainStepsMatchCpu) {
  REQUIRE_GPU();
  Generator init_cpu(13), init_gpu(13), data(14);
  TinyDeepLabConfig config;
  config.num_classes = 5;
  config.width = 8;
  TinyDeepLab cpu_model(config, init_cpu), gpu_model(config, init_gpu);
  gpu_model.to(kGpu);
  cpu_model.train();
  gpu_model.train();
  Tensor images = random({2, 24, 20, 3}, data);
  Tensor logits_cpu = cpu_model.forward(images);  // labels at the logits' resolution
  const int64_t h = logits_cpu.size(1), w = logits_cpu.size(2);
  std::vector<int32_t> ids(2 * h * w);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = i % 7 == 3 ? 255 : static_cast<int32_t>(i % 5);
  Tensor labels = Tensor::from_vector<int32_t>(ids, {2, h, w});
  Tensor loss_cpu = softmax_cross_entropy(logits_cpu, labels);
  Tensor loss_gpu = softmax_cross_entropy(gpu_model.forward(images.to(kGpu)), labels.to(kGpu));
  expect_matches(loss_gpu, loss_cpu, 1e-5, "TinyDeepLab loss");
  loss_cpu.backward();
  loss_gpu.backward();
  const auto pc = cpu_model.named_parameters(), pg = gpu_model.named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  for (size_t i = 0; i < pc.size(); ++i) {
    ASSERT_TRUE(pg[i].tensor.grad().defined()) << pg[i].name;
    expect_matches(pg[i].tensor.grad(), pc[i].tensor.grad(), 5e-4, "TinyDeepLab grad " + pc[i].name);
  }
  // Two SGD steps (momentum and weight decay) on both devices, then the second step's loss.
  SgdOptions options;
  options.lr = 0.05;
  options.weight_decay = 1e-3;
  Sgd sgd_cpu(cpu_model.param_groups(), options), sgd_gpu(gpu_model.param_groups(), options);
  sgd_cpu.step();
  sgd_gpu.step();
  sgd_cpu.zero_grad();
  sgd_gpu.zero_grad();
  loss_cpu = softmax_cross_entropy(cpu_model.forward(images), labels);
  loss_gpu = softmax_cross_entropy(gpu_model.forward(images.to(kGpu)), labels.to(kGpu));
  expect_matches(loss_gpu, loss_cpu, 1e-4, "TinyDeepLab loss after one SGD step");
  loss_cpu.backward();
  loss_gpu.backward();
  sgd_cpu.step();
  sgd_gpu.step();
  for (size_t i = 0; i < pc.size(); ++i) {
    expect_matches(pg[i].tensor, pc[i].tensor, 1e-4, "TinyDeepLab parameter after two steps " + pc[i].name);
  }
}

TEST(CudaAllocator, ReusesFreedBlocksAndReportsStats) {
  REQUIRE_GPU();
  cuda::synchronize(0);
  const AllocatorStats before = cuda::allocator_stats(0);
  { Tensor a = Tensor::empty({1 << 20}, DType::f32, kGpu); }
  const AllocatorStats mid = cuda::allocator_stats(0);
  { Tensor b = Tensor::empty({1 << 20}, DType::f32, kGpu); }
  const AllocatorStats after = cuda::allocator_stats(0);
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
  EXPECT_GE(after.peak_in_use_bytes, before.in_use_bytes + (size_t(4) << 20));
  EXPECT_GE(mid.cached_bytes, size_t(4) << 20);
  EXPECT_EQ(after.cache_hits, mid.cache_hits + 1) << "the second 4 MiB tensor must reuse the first one's block";
  cuda::release_cached_memory(0);
  EXPECT_EQ(cuda::allocator_stats(0).cached_bytes, 0u);
}

TEST(CudaAllocator, OutOfMemoryNamesTheSize) {
  REQUIRE_GPU();
  expect_error([] { Tensor::empty({int64_t(1) << 48}, DType::f32, kGpu); },
                        {"out of memory", "cuda:0", "1125899906842624"});
  // The device still works afterwards.
  EXPECT_EQ(Tensor::ones({3}, DType::f32, kGpu).to_double_vector(), std::vector<double>(3, 1.0));
}

TEST(CudaRuntimeCopies, LargeAndOddSizedRoundTripsAreExact) {
  REQUIRE_GPU();
  Generator gen(15);
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(3) * 1024 * 1024 + 7}) {  // the last spans staging chunks
    Tensor host = random({n}, gen);
    Tensor dev = host.to(kGpu);
    Tensor copy = dev.clone();  // device to device
    EXPECT_TRUE(same_bits(copy.to(Device::cpu()), host)) << n << " elements";
  }
}

TEST(CudaOps, ViewsCopiesAndDtypeConversions) {
  REQUIRE_GPU();
  Generator gen(21);
  Tensor x = random({2, 5, 7, 3}, gen);
  // Gradients through permute and slice (the slice backward copies into a view of a zero tensor).
  compare_op(
      "permute", {x},
      [](const auto& t) {
        return t[0].permute({0, 3, 1, 2}).contiguous();
      },
      0.0, 0.0);
  compare_op(
      "slice h", {x}, [](const auto& t) { return t[0].slice(1, 1, 4).contiguous(); }, 0.0, 0.0);
  compare_op(
      "slice channels", {x}, [](const auto& t) { return t[0].slice(3, 1, 3).contiguous(); }, 0.0, 0.0);
  // A sliding window's crop of a crop, cloned on the device.
  Tensor window_cpu = x.slice(1, 1, 5).slice(2, 2, 6), window_gpu = x.to(kGpu).slice(1, 1, 5).slice(2, 2, 6);
  expect_matches(window_gpu.clone(), window_cpu.clone(), 0.0, "clone of a view");
  // copy_ into a CUDA view from CPU and CUDA sources, contiguous or not.
  Tensor into_cpu = Tensor::zeros({2, 5, 7, 3}), into_gpu = Tensor::zeros({2, 5, 7, 3}, DType::f32, kGpu);
  Tensor patch = random({2, 3, 7, 3}, gen);
  into_cpu.slice(1, 2, 5).copy_(patch);
  into_gpu.slice(1, 2, 5).copy_(patch);
  into_cpu.slice(3, 0, 1).copy_(x.slice(3, 2, 3));
  into_gpu.slice(3, 0, 1).copy_(x.to(kGpu).slice(3, 2, 3));
  expect_matches(into_gpu, into_cpu, 0.0, "copy_ into views");
  // Every dtype conversion, as the CPU converts (truncation toward zero, wrap of u8).
  Tensor values = Tensor::from_vector<float>({-3.7f, -0.5f, 0.0f, 0.49f, 1.5f, 200.9f, 255.0f, 1e6f}, {8});
  for (DType from : {DType::f32, DType::f64, DType::i32, DType::u8}) {
    const Tensor source = from == DType::u8 ? values.slice(0, 2, 7).to(DType::u8) : values.to(from);
    for (DType to : {DType::f32, DType::f64, DType::i32, DType::u8}) {
      if (from != DType::u8 && to == DType::u8) continue;  // out-of-range float to u8 is undefined in C++
      EXPECT_EQ(source.to(kGpu).to(to).to_double_vector(), source.to(to).to_double_vector())
          << dtype_name(from) << " -> " << dtype_name(to);
      EXPECT_TRUE(source.to(kGpu).to(to).device().is_cuda());
    }
  }
}
