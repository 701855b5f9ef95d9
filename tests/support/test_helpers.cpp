// Shared test helpers: scratch folders, error expectations, tensor comparisons and module references.
#include "support/test_helpers.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include "core/ops/conv2d.h"
#include "core/random.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"

namespace fs = std::filesystem;

namespace atrous::testing {

bool gpu_required() {
  const char* v = std::getenv("ATROUS_REQUIRE_GPU");
  return v && std::string(v) == "1";
}

void ScratchDirTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "_" + info->name();
  for (char& c : name)
    if (c == '/') c = '_';
  dir_ = fs::temp_directory_path() / ("atrous_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir_);
  fs::create_directories(dir_);
}

void ScratchDirTest::TearDown() {
  std::error_code ignored;  // a test may have removed the folder itself
  fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ignored);
  fs::remove_all(dir_);
}

std::string ScratchDirTest::path(const std::string& name) const { return (dir_ / name).string(); }

std::string ScratchDirTest::write_raw(const std::string& name, const std::string& bytes) const {
  std::ofstream out(path(name), std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path(name);
}

std::vector<std::string> ScratchDirTest::listing() const {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected an atrous::Error mentioning '" << needles.front() << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "lacks '" << n << "': " << msg;
  }
}

::testing::AssertionResult bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined())
    return ::testing::AssertionFailure() << (a.defined() ? "second" : "first") << " tensor undefined";
  if (!a.defined()) return ::testing::AssertionSuccess();
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << a.description() << " vs " << b.description();
  const Tensor ca = a.detach().contiguous(), cb = b.detach().contiguous();
  const size_t bytes = static_cast<size_t>(ca.numel()) * dtype_size(ca.dtype());
  if (std::memcmp(ca.raw_data(), cb.raw_data(), bytes) != 0) return ::testing::AssertionFailure() << "values differ";
  return ::testing::AssertionSuccess();
}

bool same_bits(const Tensor& a, const Tensor& b) { return static_cast<bool>(bitwise_equal(a, b)); }

void expect_close(const Tensor& a, const Tensor& b, double tol) {
  ASSERT_EQ(a.shape(), b.shape());
  const auto x = a.to_double_vector(), y = b.to_double_vector();
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], y[i], tol * (1 + std::abs(y[i]))) << "element " << i;
}

void expect_matches(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.defined(), want.defined()) << what;
  if (!want.defined()) return;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto a = got.to_double_vector(), b = want.to_double_vector();
  double scale = 1.0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  double worst = 0.0;
  size_t worst_at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;  // NaN where the reference has NaN
    const double err = std::abs(a[i] - b[i]);
    if (!(err <= worst) || std::isnan(a[i]) != std::isnan(b[i])) {
      worst = std::isnan(err) ? INFINITY : err;
      worst_at = i;
    }
  }
  EXPECT_LE(worst, tol * scale) << what << ": worst element " << worst_at << " is " << a[worst_at] << ", want "
                                << b[worst_at] << " (tolerance " << tol << " x " << scale << ")";
}

void randomise_bn(BatchNorm2d& bn, Generator& gen) {
  const int64_t c = bn.options().channels;
  bn.named_parameters()[0].tensor.detach().copy_(Tensor::uniform({c}, 0.5, 1.5, gen));
  bn.named_parameters()[1].tensor.detach().copy_(Tensor::uniform({c}, -0.5, 0.5, gen));
  bn.named_buffers()[0].tensor.copy_(Tensor::uniform({c}, -0.3, 0.3, gen));
  bn.named_buffers()[1].tensor.copy_(Tensor::uniform({c}, 0.5, 2.0, gen));
}

Tensor conv_ref(const Tensor& x, Conv2d& conv) {
  const Conv2dOptions& o = conv.options();
  return conv2d(x, conv.weight().detach(), conv.has_bias() ? conv.bias().detach() : Tensor(),
                Conv2dParams().with_stride(o.stride).with_padding(o.padding).with_dilation(o.dilation));
}

}  // namespace atrous::testing
