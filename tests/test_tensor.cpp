// Tensor basics: factories, shapes and strides, copies and dtype conversion, views sharing storage, in-place
// writes through views, printing, error messages, and reuse in the caching host allocator.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/random.h"
#include "core/tensor.h"

using namespace atrous;

namespace {

// Runs `f` and expects an atrous::Error whose message contains every needle.
template <typename Fn>
void expect_error(Fn&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected an atrous::Error";
  } catch (const Error& e) {
    for (const auto& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "missing '" << needle << "' in: " << e.what();
    }
  }
}

Tensor arange(int64_t n, const Shape& shape, DType dtype = DType::f32) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
  return Tensor::from_vector<double>(v, shape).to(dtype);
}

}  // namespace

TEST(Tensor, Factories) {
  const Tensor z = Tensor::zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::f32);
  EXPECT_TRUE(z.device().is_cpu());
  EXPECT_EQ(z.to_double_vector(), std::vector<double>(6, 0.0));
  EXPECT_EQ(Tensor::ones({4}, DType::i32).to_double_vector(), std::vector<double>(4, 1.0));
  EXPECT_EQ(Tensor::full({2, 2}, 7.5, DType::f64).to_double_vector(), std::vector<double>(4, 7.5));
  EXPECT_EQ(Tensor::full({3}, 200.0, DType::u8).to_double_vector(), std::vector<double>(3, 200.0));

  const Tensor s = Tensor::scalar(3.25);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item<float>(), 3.25f);

  const Tensor e = Tensor::empty({0, 5});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.to_double_vector().empty());

  const Tensor v = Tensor::from_vector<int32_t>({1, -2, 3}, {3});
  EXPECT_EQ(v.dtype(), DType::i32);
  EXPECT_EQ(v.to_double_vector(), (std::vector<double>{1, -2, 3}));
}

TEST(Tensor, RandomFactoriesAreDeterministicAndInRange) {
  Generator a(42), b(42);
  const Tensor x = Tensor::randn({64}, a);
  const Tensor y = Tensor::randn({64}, b);
  EXPECT_EQ(x.to_double_vector(), y.to_double_vector());
  Generator c(7);
  const Tensor u = Tensor::uniform({1000}, -2.0, 3.0, c, DType::f64);
  double lo = 1e9, hi = -1e9;
  for (double d : u.to_double_vector()) lo = std::min(lo, d), hi = std::max(hi, d);
  EXPECT_GE(lo, -2.0);
  EXPECT_LT(hi, 3.0);
  EXPECT_LT(lo, -1.5);  // the range is actually covered
  EXPECT_GT(hi, 2.5);
  expect_error([&] { Tensor::uniform({2}, 1.0, 1.0, c); }, {"Tensor::uniform", "low < high"});
  expect_error([&] { Tensor::randn({2}, c, DType::i32); }, {"Tensor::randn", "i32"});
}

TEST(Tensor, ShapeAndStrides) {
  const Tensor t = Tensor::zeros({2, 3, 4, 5});
  EXPECT_EQ(t.dim(), 4);
  EXPECT_EQ(t.numel(), 120);
  EXPECT_EQ(t.strides(), (Shape{60, 20, 5, 1}));
  EXPECT_EQ(t.size(1), 3);
  EXPECT_EQ(t.size(-1), 5);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.description(), "f32[2,3,4,5] on cpu");
  expect_error([&] { t.size(4); }, {"dimension 4", "[2,3,4,5]"});
  expect_error([&] { Tensor::zeros({2, -1}); }, {"negative dimension", "[2,-1]"});
}

TEST(Tensor, ContiguousCloneAndConversions) {
  const Tensor t = arange(6, {2, 3});
  EXPECT_TRUE(t.contiguous().same_as(t));  // already contiguous: no copy

  Tensor c = t.clone();
  EXPECT_NE(c.raw_data(), t.raw_data());
  c.fill_(9.0);
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{0, 1, 2, 3, 4, 5}));

  const Tensor d = Tensor::from_vector<float>({1.75f, -2.5f, 300.0f}, {3}).to(DType::f64);
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_EQ(d.to_double_vector(), (std::vector<double>{1.75, -2.5, 300.0}));
  EXPECT_EQ(d.to(DType::i32).to_double_vector(), (std::vector<double>{1, -2, 300}));  // truncation toward zero
  EXPECT_TRUE(d.to(DType::f64).same_as(d));

  const Tensor same = t.to(Device::cpu());
  EXPECT_TRUE(same.same_as(t));
}

TEST(Tensor, ToCudaWithoutGpuIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present; this test covers CPU-only machines and builds";
  const Tensor t = Tensor::ones({2});
  expect_error([&] { t.to(Device::cuda()); }, {"cuda:0", "not available"});
  expect_error([&] { Tensor::zeros({2}, DType::f32, Device::cuda()); }, {"cuda"});
}

TEST(Tensor, EmptyPinnedIsAHostTensorPinnedWhereCudaIsVisible) {
  Tensor t = Tensor::empty_pinned({2, 3}, DType::i32);
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_EQ(t.is_pinned(), cuda_available());
  EXPECT_FALSE(Tensor::empty({2, 3}).is_pinned());
  t.fill_(7);
  EXPECT_EQ(t.to(DType::f64).to_double_vector(), std::vector<double>(6, 7.0));
  // non_blocking is a plain copy for anything not pinned (and on the CPU).
  EXPECT_EQ(Tensor::ones({3}).to(Device::cpu(), true).to_double_vector(), std::vector<double>(3, 1.0));
}

TEST(Tensor, ReshapeSharesStorageAndInfersMinusOne) {
  const Tensor t = arange(24, {2, 3, 4});
  const Tensor r = t.reshape({-1, 4});
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_EQ(r.raw_data(), t.raw_data());
  EXPECT_EQ(t.reshape({4, -1}).shape(), (Shape{4, 6}));
  EXPECT_EQ(t.reshape({24}).to_double_vector(), t.to_double_vector());
  expect_error([&] { t.reshape({5, -1}); }, {"reshape", "[5,-1]"});
  expect_error([&] { t.reshape({-1, -1}); }, {"more than one -1"});
  expect_error([&] { t.reshape({5, 5}); }, {"reshape", "24", "25"});
}

TEST(Tensor, PermuteIsAStridedView) {
  const Tensor t = arange(6, {2, 3});
  const Tensor p = t.permute({1, 0});
  EXPECT_EQ(p.shape(), (Shape{3, 2}));
  EXPECT_EQ(p.strides(), (Shape{1, 3}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.raw_data(), t.raw_data());
  EXPECT_EQ(p.to_double_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  const Tensor c = p.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_double_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  // reshape of a non-contiguous view copies.
  EXPECT_EQ(p.reshape({6}).to_double_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  expect_error([&] { t.permute({0, 0}); }, {"permute", "permutation"});
  expect_error([&] { t.permute({0}); }, {"permute"});
}

TEST(Tensor, NhwcToNchwPermuteRoundTrip) {
  Generator gen(3);
  const Tensor nhwc = Tensor::randn({2, 5, 4, 3}, gen);
  const Tensor nchw = nhwc.permute({0, 3, 1, 2}).contiguous();
  EXPECT_EQ(nchw.shape(), (Shape{2, 3, 5, 4}));
  const Tensor back = nchw.permute({0, 2, 3, 1}).contiguous();
  EXPECT_EQ(back.to_double_vector(), nhwc.to_double_vector());
}

TEST(Tensor, SliceSharesStorage) {
  Tensor t = arange(12, {3, 4});
  const Tensor s = t.slice(1, 1, 3);  // columns 1 and 2
  EXPECT_EQ(s.shape(), (Shape{3, 2}));
  EXPECT_FALSE(s.is_contiguous());
  EXPECT_EQ(s.to_double_vector(), (std::vector<double>{1, 2, 5, 6, 9, 10}));
  const Tensor rows = t.slice(0, 1, 3);
  EXPECT_TRUE(rows.is_contiguous());
  EXPECT_EQ(rows.to_double_vector()[0], 4.0);
  EXPECT_EQ(t.slice(-1, 0, 0).numel(), 0);

  t.fill_(0.0);  // writes through the parent are visible in the view
  EXPECT_EQ(s.to_double_vector(), std::vector<double>(6, 0.0));
  expect_error([&] { t.slice(1, 2, 5); }, {"slice", "[2, 5)", "[3,4]"});
  expect_error([&] { t.slice(2, 0, 1); }, {"slice", "dimension 2"});
}

TEST(Tensor, CopyAndFillIntoViews) {
  Tensor t = Tensor::zeros({3, 4});
  Tensor column = t.slice(1, 2, 3);
  column.copy_(Tensor::from_vector<float>({7, 8, 9}, {3, 1}));
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 9, 0}));

  Tensor transposed = t.permute({1, 0});
  transposed.slice(0, 0, 1).fill_(-1.0);  // first row of the transpose = first column of t
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{-1, 0, 7, 0, -1, 0, 8, 0, -1, 0, 9, 0}));

  // A non-contiguous source into a contiguous destination.
  Tensor dst = Tensor::zeros({4, 3});
  dst.copy_(t.permute({1, 0}));
  EXPECT_EQ(dst.to_double_vector(), (std::vector<double>{-1, -1, -1, 0, 0, 0, 7, 8, 9, 0, 0, 0}));

  expect_error([&] { dst.copy_(Tensor::zeros({3, 4})); }, {"copy_", "f32[3,4]", "f32[4,3]"});
  expect_error([&] { dst.copy_(Tensor::zeros({4, 3}, DType::f64)); }, {"copy_", "f64"});
  dst.zero_();
  EXPECT_EQ(dst.to_double_vector(), std::vector<double>(12, 0.0));
}

TEST(Tensor, Item) {
  EXPECT_EQ(Tensor::full({1, 1}, 4.0, DType::i32).item<int32_t>(), 4);
  EXPECT_EQ(Tensor::scalar(0.5, DType::f64).item<double>(), 0.5);
  expect_error([&] { Tensor::zeros({2}).item<float>(); }, {"item", "2 elements"});
}

TEST(Tensor, DataChecksDtype) {
  Tensor t = Tensor::zeros({2}, DType::f32);
  EXPECT_NE(t.data<float>(), nullptr);
  expect_error([&] { t.data<double>(); }, {"Tensor::data", "f32", "f64"});
  expect_error([&] { t.data<int32_t>(); }, {"f32", "i32"});
}

TEST(Tensor, FromVectorSizeMismatch) {
  expect_error([] { Tensor::from_vector<float>({1, 2, 3}, {2, 2}); }, {"from_vector", "3 values", "[2,2]"});
}

TEST(Tensor, UndefinedTensorIsAnError) {
  const Tensor t;
  EXPECT_FALSE(t.defined());
  expect_error([&] { t.shape(); }, {"undefined"});
}

TEST(Tensor, Printing) {
  std::ostringstream out;
  out << Tensor::from_vector<float>({1.5f, -2.0f}, {2});
  EXPECT_EQ(out.str(), "Tensor(f32[2] on cpu) [1.5, -2]");

  std::ostringstream grad;
  grad << Tensor::zeros({1}).set_requires_grad(true);
  EXPECT_NE(grad.str().find("requires_grad"), std::string::npos);

  std::ostringstream big;
  big << Tensor::zeros({100}, DType::u8);
  EXPECT_NE(big.str().find("... (100 values)"), std::string::npos) << big.str();

  std::ostringstream none;
  none << Tensor();
  EXPECT_EQ(none.str(), "Tensor(undefined)");
}

TEST(Tensor, HostAllocatorReusesLargeBlocks) {
  const size_t kElements = 4 << 20;  // 16 MB of f32, far above the small-block threshold
  { Tensor warm = Tensor::empty({static_cast<int64_t>(kElements)}); }  // the block is now cached
  const AllocatorStats before = host_allocator_stats();
  void* first = nullptr;
  {
    Tensor a = Tensor::empty({static_cast<int64_t>(kElements)});
    first = a.raw_data();
    EXPECT_GE(host_allocator_stats().in_use_bytes, before.in_use_bytes + kElements * 4);
  }
  {
    Tensor b = Tensor::empty({static_cast<int64_t>(kElements)});
    EXPECT_EQ(b.raw_data(), first);  // the same block came back
  }
  const AllocatorStats after = host_allocator_stats();
  EXPECT_GE(after.cache_hits, before.cache_hits + 2);
  EXPECT_EQ(after.allocations, before.allocations + 2);
  EXPECT_GE(after.cached_bytes, kElements * 4);
  EXPECT_GE(after.peak_in_use_bytes, kElements * 4);

  host_allocator_release_cache();
  EXPECT_EQ(host_allocator_stats().cached_bytes, 0u);
}
