// .npy I/O: round trips for every dtype and rank 0..4, hand-built NumPy headers (v1/v2/v3, Fortran order, i8, b1)
// and every corrupt-file error, each of which must name the file.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "core/npy.h"
#include "core/random.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;
namespace fs = std::filesystem;

namespace {

class NpyTest : public ScratchDirTest {
 protected:
  // Writes preamble + header (padded to 64 bytes as NumPy does) + raw data bytes.
  std::string write_npy(const std::string& name, const std::string& dict, const std::string& data, int major = 1) {
    const size_t preamble = 6 + 2 + (major == 1 ? 2 : 4);
    std::string header = dict;
    while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += static_cast<char>(major);
    bytes += '\0';
    for (int i = 0; i < (major == 1 ? 2 : 4); ++i) bytes += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
    return write_raw(name, bytes + header + data);
  }
};

template <typename T>
std::string bytes_of(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// Runs `f`, expects an atrous::Error whose message contains the file path and `needle`.
template <typename Fn>
void expect_error(Fn&& f, const std::string& file, const std::string& needle) {
  atrous::testing::expect_error(std::forward<Fn>(f), {needle, file});
}

Tensor sample(DType dtype, const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor t = Tensor::uniform(shape, -100.0, 100.0, gen, DType::f64);
  return dtype == DType::u8 ? Tensor::uniform(shape, 0.0, 255.0, gen, DType::f64).to(dtype) : t.to(dtype);
}

}  // namespace

TEST_F(NpyTest, RoundTripEveryDtypeAndRank) {
  const std::vector<Shape> shapes = {{}, {7}, {3, 5}, {2, 3, 4}, {2, 9, 11, 8}, {0, 3}};
  for (DType dtype : {DType::f32, DType::f64, DType::i32, DType::u8}) {
    for (size_t s = 0; s < shapes.size(); ++s) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + shape_str(shapes[s]));
      const Tensor t = sample(dtype, shapes[s], 17 + s);
      const std::string file = path("a.npy");
      save_npy(t, file);
      const Tensor back = load_npy(file);
      EXPECT_EQ(back.dtype(), dtype);
      EXPECT_EQ(back.shape(), shapes[s]);
      EXPECT_EQ(back.to_double_vector(), t.to_double_vector());
      // NumPy aligns the data start to 64 bytes.
      EXPECT_EQ((fs::file_size(file) - t.numel() * dtype_size(dtype)) % 64, 0u);
    }
  }
}

TEST_F(NpyTest, WritesNumpyHeader) {
  save_npy(Tensor::zeros({2, 3}, DType::f32), path("h.npy"));
  std::ifstream in(path("h.npy"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 128u + 24u);  // 70 bytes of preamble and header, padded to 128
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), std::string::npos);
  EXPECT_EQ(bytes[127], '\n');

  save_npy(Tensor::zeros({4}, DType::u8), path("v.npy"));
  std::ifstream in2(path("v.npy"), std::ios::binary);
  std::string bytes2((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
  EXPECT_NE(bytes2.find("'descr': '|u1'"), std::string::npos);
  EXPECT_NE(bytes2.find("'shape': (4,)"), std::string::npos);
}

TEST_F(NpyTest, NonContiguousTensorIsWrittenInLogicalOrder) {
  const Tensor base = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  const Tensor transposed = base.permute({1, 0});  // [[0,3],[1,4],[2,5]]
  ASSERT_FALSE(transposed.is_contiguous());
  save_npy(transposed, path("t.npy"));
  const Tensor back = load_npy(path("t.npy"));
  EXPECT_EQ(back.shape(), (Shape{3, 2}));
  EXPECT_EQ(back.to_double_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}));

  save_npy(base.slice(1, 1, 3), path("s.npy"));
  EXPECT_EQ(load_npy(path("s.npy")).to_double_vector(), (std::vector<double>{1, 2, 4, 5}));
}

TEST_F(NpyTest, OverwritesAtomicallyAndLeavesNoTemporaryFiles) {
  save_npy(Tensor::full({3}, 1.0), path("x.npy"));
  save_npy(Tensor::full({5}, 2.0, DType::f64), path("x.npy"));
  const Tensor back = load_npy(path("x.npy"));
  EXPECT_EQ(back.dtype(), DType::f64);
  EXPECT_EQ(back.to_double_vector(), std::vector<double>(5, 2.0));
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir())) ++files;
  EXPECT_EQ(files, 1);
}

TEST_F(NpyTest, SaveIntoMissingFolderNamesTheFile) {
  const std::string file = path("no/such/folder/x.npy");
  expect_error([&] { save_npy(Tensor::zeros({2}), file); }, file, "cannot open");
}

TEST_F(NpyTest, ReadsVersion2And3Headers) {
  const std::vector<float> v = {1.5f, -2.0f, 3.25f};
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  for (int major : {2, 3}) {
    const Tensor t = load_npy(write_npy("v" + std::to_string(major) + ".npy", dict, bytes_of(v), major));
    EXPECT_EQ(t.shape(), (Shape{3}));
    EXPECT_EQ(t.to_double_vector(), (std::vector<double>{1.5, -2.0, 3.25}));
  }
}

TEST_F(NpyTest, HeaderKeysInAnyOrderAndDoubleQuotes) {
  const std::vector<int32_t> v = {1, 2, 3, 4};
  const Tensor t = load_npy(write_npy("k.npy", "{\"shape\": (2, 2), \"fortran_order\": False, \"descr\": \"<i4\"}",
                                      bytes_of(v)));
  EXPECT_EQ(t.dtype(), DType::i32);
  EXPECT_EQ(t.shape(), (Shape{2, 2}));
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{1, 2, 3, 4}));
}

TEST_F(NpyTest, FortranOrderIsTransposedIntoCOrder) {
  // The 2x3 matrix [[0,1,2],[3,4,5]] stored column-major.
  const std::vector<double> v = {0, 3, 1, 4, 2, 5};
  const Tensor t = load_npy(write_npy("f.npy", "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                      bytes_of(v)));
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{0, 1, 2, 3, 4, 5}));

  // Rank 3: element (i,j,k) sits at i + 2j + 6k on disk.
  std::vector<float> w(24);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) w[i + 2 * j + 6 * k] = static_cast<float>(100 * i + 10 * j + k);
  const Tensor u = load_npy(write_npy("f3.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4), }",
                                      bytes_of(w)));
  const std::vector<double> got = u.to_double_vector();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(got[i * 12 + j * 4 + k], 100 * i + 10 * j + k);
}

TEST_F(NpyTest, Int64BecomesInt32WithRangeCheck) {
  const std::vector<int64_t> ok = {0, 255, -7, 2147483647};
  const Tensor t = load_npy(write_npy("i8.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
                                      bytes_of(ok)));
  EXPECT_EQ(t.dtype(), DType::i32);
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{0, 255, -7, 2147483647}));

  const std::vector<int64_t> bad = {1, int64_t(1) << 33};
  const std::string file = write_npy("i8bad.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                                     bytes_of(bad));
  expect_error([&] { load_npy(file); }, file, "8589934592");
}

TEST_F(NpyTest, BoolBecomesU8) {
  const std::vector<uint8_t> v = {1, 0, 1};
  const Tensor t = load_npy(write_npy("b.npy", "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                                      bytes_of(v)));
  EXPECT_EQ(t.dtype(), DType::u8);
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{1, 0, 1}));
}

TEST_F(NpyTest, MissingFile) {
  const std::string file = path("absent.npy");
  expect_error([&] { load_npy(file); }, file, "cannot open");
}

TEST_F(NpyTest, BadMagic) {
  const std::string file = write_raw("png.npy", std::string("\x89PNG\r\n\x1a\n0000000000000000", 24));
  expect_error([&] { load_npy(file); }, file, "bad magic");
  const std::string empty = write_raw("empty.npy", "");
  expect_error([&] { load_npy(empty); }, empty, "bad magic");
}

TEST_F(NpyTest, TruncatedHeader) {
  // The preamble declares a 118-byte header but the file ends after 20 bytes of it.
  std::string bytes = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + "{'descr': '<f4', 'fo";
  const std::string file = write_raw("trunc.npy", bytes);
  expect_error([&] { load_npy(file); }, file, "truncated header");
  // Cut inside the preamble itself.
  const std::string tiny = write_raw("tiny.npy", std::string("\x93NUMPY\x01", 7));
  expect_error([&] { load_npy(tiny); }, tiny, "truncated header");
}

TEST_F(NpyTest, MalformedHeader) {
  const std::string file = write_npy("m.npy", "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }", "");
  expect_error([&] { load_npy(file); }, file, "fortran_order");
  const std::string lacks = write_npy("l.npy", "{'descr': '<f4', 'shape': (3,), }", std::string(12, '\0'));
  expect_error([&] { load_npy(lacks); }, lacks, "lacks");
}

TEST_F(NpyTest, UnsupportedDtype) {
  const std::string file = write_npy("c.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                                     std::string(8, '\0'));
  expect_error([&] { load_npy(file); }, file, "unsupported dtype '<c8'");
  const std::string rec = write_npy("r.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                                    std::string(4, '\0'));
  expect_error([&] { load_npy(rec); }, rec, "unsupported dtype");
}

TEST_F(NpyTest, BigEndian) {
  const std::string file = write_npy("be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                     std::string(8, '\0'));
  expect_error([&] { load_npy(file); }, file, "big-endian");
}

TEST_F(NpyTest, DataShorterThanShape) {
  const std::vector<float> v = {1, 2, 3, 4, 5};
  const std::string file = write_npy("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                     bytes_of(v));
  expect_error([&] { load_npy(file); }, file, "shorter");
}

TEST_F(NpyTest, TrailingBytesAreAnError) {
  const std::vector<float> v = {1, 2, 3, 4, 5, 6, 7};
  const std::string file = write_npy("long.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                     bytes_of(v));
  expect_error([&] { load_npy(file); }, file, "unexpected bytes");
}

TEST_F(NpyTest, UnsupportedVersion) {
  std::string bytes = std::string("\x93NUMPY\x04\x00\x00\x00", 10);
  const std::string file = write_raw("v4.npy", bytes);
  expect_error([&] { load_npy(file); }, file, "version 4");
}
