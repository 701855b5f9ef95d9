// safetensors I/O: round trips of every dtype, f16/bf16 rounding (exhaustive and special values), files written by
// an independent Python writer (tests/fixtures/make_safetensors_fixtures.py), every corrupt-file error, and atomic writes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/half.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;
namespace fs = std::filesystem;

namespace {

const std::string kInterop = std::string(ATROUS_FIXTURE_DIR) + "/safetensors/interop.safetensors";

class SafetensorsTest : public ScratchDirTest {
 protected:
  // 8-byte length + header + data; `length` overrides the declared header length.
  std::string write_file(const std::string& name, const std::string& header, const std::string& data,
                         int64_t length = -1) {
    const uint64_t n = length < 0 ? header.size() : static_cast<uint64_t>(length);
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
    return write_raw(name, bytes + header + data);
  }
};

Tensor sample(DType dtype, const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  if (dtype == DType::u8) return Tensor::uniform(shape, 0.0, 255.0, gen, DType::f64).to(dtype);
  return Tensor::uniform(shape, -1e4, 1e4, gen, DType::f64).to(dtype);
}

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace

// ---- round trips ----

TEST_F(SafetensorsTest, RoundTripsEveryDtypeShapeAndMetadata) {
  const std::map<std::string, Tensor> tensors = {
      {"a.f32", sample(DType::f32, {2, 3, 4}, 1)},
      {"b.f64", sample(DType::f64, {5}, 2)},
      {"c.i32", sample(DType::i32, {3, 2}, 3)},
      {"d.u8", sample(DType::u8, {7}, 4)},
      {"scalar", Tensor::scalar(-1.25)},
      {"empty", Tensor::zeros({0, 4})},
      {"strided", sample(DType::f32, {3, 4, 5}, 5).permute({2, 0, 1})},  // stored in logical order
  };
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "caf\xc3\xa9"}, {"empty", ""}};
  save_safetensors(path("x.safetensors"), tensors, meta);

  const SafetensorsFile f(path("x.safetensors"));
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a.f32", "b.f64", "c.i32", "d.u8", "empty", "scalar", "strided"}));
  EXPECT_EQ(f.metadata(), meta);
  EXPECT_EQ(f.info("a.f32").dtype, "F32");
  EXPECT_EQ(f.info("b.f64").dtype, "F64");
  EXPECT_EQ(f.info("c.i32").dtype, "I32");
  EXPECT_EQ(f.info("d.u8").dtype, "U8");
  EXPECT_EQ(f.info("scalar").shape, Shape{});
  EXPECT_EQ(f.info("strided").shape, (Shape{5, 3, 4}));
  for (const auto& [name, t] : tensors) EXPECT_TRUE(same_bits(f.load(name), t)) << name;

  const auto all = load_safetensors(path("x.safetensors"));
  ASSERT_EQ(all.size(), tensors.size());
  for (const auto& [name, t] : tensors) EXPECT_TRUE(same_bits(all.at(name), t)) << name;

  // No metadata: the header has no __metadata__ entry at all, as the reference writer does.
  save_safetensors(path("plain.safetensors"), {{"w", Tensor::ones({2})}});
  EXPECT_EQ(read_bytes(path("plain.safetensors")).find("__metadata__"), std::string::npos);
  EXPECT_TRUE(SafetensorsFile(path("plain.safetensors")).metadata().empty());
}

TEST_F(SafetensorsTest, HeaderIsSpacePaddedAndTensorsAreAligned) {
  save_safetensors(path("x.safetensors"), {{"a", Tensor::ones({3}, DType::u8)},
                                           {"b", Tensor::ones({3}, DType::f64)},
                                           {"c", Tensor::ones({1}, DType::f32)},
                                           {"d", Tensor::ones({5}, DType::u8)}});
  const std::string bytes = read_bytes(path("x.safetensors"));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));  // JSON, then only spaces
  EXPECT_EQ(bytes.size(), 8 + n + 3 + 24 + 4 + 5);               // data packed without gaps
  const SafetensorsFile f(path("x.safetensors"));
  for (const std::string& name : f.names()) {
    const SafetensorsInfo& i = f.info(name);
    const size_t size = i.dtype == "F64" ? 8 : i.dtype == "F32" ? 4 : 1;
    EXPECT_EQ(i.begin % size, 0u) << name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f.raw_data(name)) % size, 0u) << name;
  }
}

TEST_F(SafetensorsTest, ExportsHalfAndBfloat16AndNarrowsDoubles) {
  const Tensor x = sample(DType::f32, {4, 33}, 7);
  const Tensor d = sample(DType::f64, {9}, 8);
  const Tensor labels = sample(DType::u8, {6}, 9);
  const Tensor idx = sample(DType::i32, {6}, 10);
  const std::map<std::string, Tensor> tensors = {{"x", x}, {"d", d}, {"labels", labels}, {"idx", idx}};
  for (SafetensorsFloat format : {SafetensorsFloat::f16, SafetensorsFloat::bf16}) {
    const bool half = format == SafetensorsFloat::f16;
    save_safetensors(path("h.safetensors"), tensors, {}, {format});
    const SafetensorsFile f(path("h.safetensors"));
    EXPECT_EQ(f.info("x").dtype, half ? "F16" : "BF16");
    EXPECT_EQ(f.info("d").dtype, half ? "F16" : "BF16");
    EXPECT_EQ(f.info("labels").dtype, "U8");  // integers are never converted
    EXPECT_EQ(f.info("idx").dtype, "I32");
    EXPECT_TRUE(same_bits(f.load("labels"), labels));
    EXPECT_TRUE(same_bits(f.load("idx"), idx));
    for (const char* name : {"x", "d"}) {
      const Tensor loaded = f.load(name);
      ASSERT_EQ(loaded.dtype(), DType::f32);
      const std::vector<double> in = tensors.at(name).to_double_vector(), out = loaded.to_double_vector();
      for (size_t i = 0; i < in.size(); ++i) {
        const float expected = half ? float_from_f16(f16_from_double(in[i])) : float_from_bf16(bf16_from_double(in[i]));
        EXPECT_EQ(out[i], expected) << name << "[" << i << "]";
        // Round to nearest: within half a unit in the last place (2^-11 relative for f16, 2^-8 for bf16).
        EXPECT_LE(std::abs(out[i] - in[i]), std::abs(in[i]) * (half ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8)));
      }
    }
  }
  save_safetensors(path("n.safetensors"), {{"d", d}}, {}, {SafetensorsFloat::f32});
  const SafetensorsFile f(path("n.safetensors"));
  EXPECT_EQ(f.info("d").dtype, "F32");
  EXPECT_TRUE(same_bits(f.load("d"), d.to(DType::f32)));
}

TEST_F(SafetensorsTest, CudaTensorsAreCopiedToTheHost) {
  ATROUS_REQUIRE_CUDA();
  const Tensor x = sample(DType::f32, {3, 5}, 11);
  save_safetensors(path("c.safetensors"), {{"x", x.to(Device::cuda())}});
  EXPECT_TRUE(same_bits(SafetensorsFile(path("c.safetensors")).load("x"), x));
}

// ---- f16 / bf16 conversions ----

TEST(HalfConversion, SpecialValuesAndTiesRoundToNearestEven) {
  struct Case {
    double value;
    uint16_t f16;
  };
  const double tiny = std::ldexp(1.0, -24);  // smallest f16 subnormal
  const Case cases[] = {
      {0.0, 0x0000},           {-0.0, 0x8000},          {1.0, 0x3C00},
      {-2.0, 0xC000},          {1.0 / 3.0, 0x3555},     {65504.0, 0x7BFF},
      {65519.0, 0x7BFF},       {65520.0, 0x7C00},       {1e6, 0x7C00},
      {-1e6, 0xFC00},          {INFINITY, 0x7C00},      {-INFINITY, 0xFC00},
      {std::ldexp(1.0, -14), 0x0400},                   {tiny, 0x0001},
      {tiny / 2, 0x0000},      {-tiny / 2, 0x8000},     {1.5 * tiny, 0x0002},
      {2.5 * tiny, 0x0002},    {tiny * 0.500001, 0x0001}, {1023 * tiny, 0x03FF},
      {1023.5 * tiny, 0x0400},  // largest subnormal rounds up into the smallest normal
      {1 + std::ldexp(1.0, -11), 0x3C00},              {1 + 3 * std::ldexp(1.0, -11), 0x3C02},
      {2049.0, 0x6800},        {2051.0, 0x6802},        {1e-10, 0x0000},
      // Directly from double: rounding through float first would land on the tie and round down to 1.0.
      {1 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40), 0x3C01},
  };
  for (const Case& c : cases) EXPECT_EQ(f16_from_double(c.value), c.f16) << c.value;
  EXPECT_EQ(float_from_f16(0x0001), static_cast<float>(tiny));
  EXPECT_EQ(float_from_f16(0x03FF), static_cast<float>(1023 * tiny));
  EXPECT_EQ(float_from_f16(0x7BFF), 65504.0f);
  EXPECT_EQ(float_from_f16(0xFC00), -INFINITY);
  EXPECT_TRUE(std::signbit(float_from_f16(0x8000)));
  EXPECT_TRUE(std::isnan(float_from_f16(f16_from_float(NAN))));
  EXPECT_TRUE(std::isnan(float_from_f16(0x7C01)));  // a signalling NaN stays a NaN, not an infinity
  EXPECT_EQ(f16_from_float(std::numeric_limits<float>::quiet_NaN()) & 0x7C00, 0x7C00);

  struct BCase {
    double value;
    uint16_t bf16;
  };
  const BCase bcases[] = {
      {0.0, 0x0000},         {-0.0, 0x8000},        {1.0, 0x3F80},          {1.0 / 3.0, 0x3EAB},
      {3.0e38, 0x7F62},      {3.4e38, 0x7F80},      {-INFINITY, 0xFF80},    {std::ldexp(1.0, -133), 0x0001},
      {std::ldexp(1.0, -134), 0x0000},             {1 + std::ldexp(1.0, -8), 0x3F80},
      {1 + 3 * std::ldexp(1.0, -8), 0x3F82},       {std::ldexp(1.0, -126), 0x0080},
      {1e300, 0x7F80},       {1e-300, 0x0000},
  };
  for (const BCase& c : bcases) EXPECT_EQ(bf16_from_double(c.value), c.bf16) << c.value;
  EXPECT_TRUE(std::isnan(float_from_bf16(bf16_from_float(NAN))));
  EXPECT_EQ(float_bits(float_from_bf16(0x3F80)), 0x3F800000u);
}

TEST(HalfConversion, EveryBitPatternRoundTripsExactly) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = float_from_f16(bits), b = float_from_bf16(bits);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(float_from_f16(f16_from_float(f))));
    } else {
      ASSERT_EQ(f16_from_float(f), bits) << "f16 " << h;
      ASSERT_EQ(f16_from_double(f), bits) << "f16 " << h;
    }
    if (std::isnan(b)) {
      EXPECT_TRUE(std::isnan(float_from_bf16(bf16_from_float(b))));
    } else {
      ASSERT_EQ(bf16_from_float(b), bits) << "bf16 " << h;
    }
  }
}

TEST(HalfConversion, RandomValuesRoundToTheNearestRepresentable) {
  Generator gen(17);
  for (int i = 0; i < 20000; ++i) {
    const double x = (gen.next_uniform() - 0.5) * std::ldexp(1.0, static_cast<int>(gen.next_uniform() * 40) - 26);
    const uint16_t h = f16_from_double(x);
    const double back = float_from_f16(h);
    // No f16 neighbour of the result is closer to x.
    for (int step : {-1, 1}) {
      const uint16_t n = static_cast<uint16_t>(h + step);
      const double other = float_from_f16(n);
      if ((n & 0x7C00) == 0x7C00 || ((n ^ h) & 0x8000)) continue;
      EXPECT_LE(std::abs(back - x), std::abs(other - x)) << x;
    }
  }
}

// ---- interoperability: a file written by tests/fixtures/make_safetensors_fixtures.py ----

TEST(SafetensorsInterop, ReadsFilesWrittenByAnIndependentWriter) {
  const SafetensorsFile f(kInterop);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "caf\xc3\xa9 \xe2\x9c\x93");
  EXPECT_EQ(f.info("src_bf16").dtype, "BF16");

  EXPECT_EQ(f.load("flags").to_double_vector(), (std::vector<double>{1, 0, 1, 1, 0}));
  EXPECT_EQ(f.load("flags").dtype(), DType::u8);
  EXPECT_EQ(f.load("bytes").to_double_vector(), (std::vector<double>{0, 1, 127, 255}));
  const Tensor w = f.load("conv.weight");  // starts at byte 9 of the data: unaligned
  EXPECT_EQ(w.shape(), (Shape{2, 3, 3, 2}));
  const std::vector<double> wv = w.to_double_vector();
  for (size_t i = 0; i < wv.size(); ++i) EXPECT_EQ(wv[i], i * 0.25 - 4.0);
  EXPECT_EQ(f.load("double").to_double_vector(), (std::vector<double>{M_PI, -1e300, 5e-324}));
  EXPECT_EQ(f.load("ints").to_double_vector(), (std::vector<double>{1, -2, 2147483647, -2147483648.0}));
  const Tensor longs = f.load("longs");
  EXPECT_EQ(longs.dtype(), DType::i32);
  EXPECT_EQ(longs.to_double_vector(), (std::vector<double>{0, -7, 2147483647, -2147483648.0}));
  EXPECT_EQ(f.load("scalar").shape(), Shape{});
  EXPECT_EQ(f.load("scalar").item<float>(), 2.5f);
  EXPECT_EQ(f.load("empty").shape(), (Shape{0, 3}));

  // NumPy's float16 and the script's bfloat16 decode to exactly the widened values it stored beside them.
  for (const char* base : {"src_f16", "src_bf16"}) {
    const Tensor got = f.load(base), expected = f.load(std::string(base) + "_as_f32");
    ASSERT_EQ(got.numel(), 64);
    for (int64_t i = 0; i < got.numel(); ++i) {
      const float a = got.data<float>()[i], b = expected.data<float>()[i];
      EXPECT_TRUE(float_bits(a) == float_bits(b) || (std::isnan(a) && std::isnan(b))) << base << "[" << i << "]";
    }
  }
}

TEST_F(SafetensorsTest, OurExportMatchesNumpyRoundingBitForBit) {
  const SafetensorsFile f(kInterop);
  const Tensor src = f.load("src");
  for (SafetensorsFloat format : {SafetensorsFloat::f16, SafetensorsFloat::bf16}) {
    const std::string name = format == SafetensorsFloat::f16 ? "src_f16" : "src_bf16";
    save_safetensors(path("ours.safetensors"), {{"src", src}}, {}, {format});
    const SafetensorsFile ours(path("ours.safetensors"));
    uint16_t a[64], b[64];
    std::memcpy(a, ours.raw_data("src"), sizeof(a));
    std::memcpy(b, f.raw_data(name), sizeof(b));
    for (int i = 0; i < 64; ++i) EXPECT_EQ(a[i], b[i]) << name << "[" << i << "] from " << src.data<float>()[i];
  }
}

// ---- corrupt files: each error names the file (and the tensor) ----

TEST_F(SafetensorsTest, FileLevelErrorsNameTheFile) {
  const std::string missing = path("missing.safetensors");
  expect_error([&] { SafetensorsFile f(missing); }, {missing, "cannot open"});
  const std::string short_file = write_raw("short.safetensors", "abc");
  expect_error([&] { SafetensorsFile f(short_file); }, {short_file, "3 bytes", "shorter than the 8-byte"});
  const std::string empty = write_raw("empty.safetensors", "");
  expect_error([&] { SafetensorsFile f(empty); }, {empty, "shorter than the 8-byte"});
  const std::string too_long = write_file("long.safetensors", "{}", "", 1000);
  expect_error([&] { SafetensorsFile f(too_long); }, {too_long, "header length 1000", "beyond the end"});
  const std::string huge = write_file("huge.safetensors", "{}", "", std::numeric_limits<int64_t>::max());
  expect_error([&] { SafetensorsFile f(huge); }, {huge, "beyond the end"});
  const std::string bad_json = write_file("json.safetensors", "{\"a\": {\"dtype\": ", "");
  expect_error([&] { SafetensorsFile f(bad_json); }, {bad_json, "not valid JSON"});
  const std::string not_object = write_file("array.safetensors", "[1, 2]  ", "");
  expect_error([&] { SafetensorsFile f(not_object); }, {not_object, "not a JSON object"});
  const std::string bad_meta = write_file("meta.safetensors", R"({"__metadata__": {"k": 3}})", "");
  expect_error([&] { SafetensorsFile f(bad_meta); }, {bad_meta, "metadata 'k'", "not a string"});
  const std::string folder = path("");
  expect_error([&] { SafetensorsFile f(folder); }, {"not a regular file"});
}

TEST_F(SafetensorsTest, EntryErrorsNameTheTensor) {
  const std::string data(16, '\0');
  struct Case {
    const char* header;
    std::vector<std::string> needles;
  };
  const Case cases[] = {
      {R"({"w": {"shape": [2], "data_offsets": [0, 8]}})", {"'w'", "lacks 'dtype'"}},
      {R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", {"'w'", "lacks 'shape'"}},
      {R"({"w": {"dtype": "F32", "shape": [2]}})", {"'w'", "lacks 'data_offsets'"}},
      {R"({"w": 5})", {"'w'", "not an object"}},
      {R"({"w": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}})", {"'w'", "unsupported dtype 'Q7'"}},
      {R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", {"'w'", "non-negative integers"}},
      {R"({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", {"'w'", "non-negative integers"}},
      {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", {"'w'", "[begin, end]"}},
      {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", {"'w'", "end before they begin"}},
      {R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", {"'w'", "span 8 bytes", "needs 12"}},
      {R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})",
       {"'w'", "too large"}},
      {R"({"w": {"dtype": "F64", "shape": [2], "data_offsets": [8, 24]}})", {"'w'", "outside the data section"}},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
       {"'a'", "'b'", "overlap"}},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string file = write_file("bad" + std::to_string(i++) + ".safetensors", c.header, data);
    std::vector<std::string> needles = c.needles;
    needles.push_back(file);
    expect_error([&] { SafetensorsFile f(file); }, needles);
  }
}

TEST_F(SafetensorsTest, LoadErrorsNameTheTensor) {
  std::string data(24, '\0');
  const int64_t big = int64_t(1) << 40;
  std::memcpy(&data[12], &big, 8);
  const std::string file = write_file("x.safetensors",
                                      R"({"s": {"dtype": "I16", "shape": [2], "data_offsets": [0, 4]},
                                          "l": {"dtype": "I64", "shape": [2], "data_offsets": [4, 20]},
                                          "ok": {"dtype": "U8", "shape": [0], "data_offsets": [20, 20]}})",
                                      data);
  const SafetensorsFile f(file);  // a dtype we cannot load does not stop the rest of the file from loading
  EXPECT_EQ(f.load("ok").numel(), 0);
  EXPECT_EQ(f.info("s").dtype, "I16");
  expect_error([&] { f.load("s"); }, {file, "'s'", "I16", "cannot be loaded"});
  expect_error([&] { f.load("l"); }, {file, "'l'", "1099511627776", "element 1", "does not fit"});
  expect_error([&] { f.load("nope"); }, {file, "no tensor named 'nope'", "l, ok, s"});
  expect_error([&] { f.info("nope"); }, {file, "'nope'"});
}

TEST_F(SafetensorsTest, TruncatedFileIsRejected) {
  save_safetensors(path("x.safetensors"), {{"w", Tensor::ones({64})}});
  const std::string bytes = read_bytes(path("x.safetensors"));
  const std::string cut = write_raw("cut.safetensors", bytes.substr(0, bytes.size() - 5));
  expect_error([&] { SafetensorsFile f(cut); }, {cut, "'w'", "outside the data section"});
  const std::string cut_header = write_raw("cut_header.safetensors", bytes.substr(0, 20));
  expect_error([&] { SafetensorsFile f(cut_header); }, {cut_header, "beyond the end"});
}

TEST_F(SafetensorsTest, SaveRejectsBadArguments) {
  expect_error([&] { save_safetensors(path("x.safetensors"), {{"w", Tensor()}}); }, {"'w'", "undefined"});
  expect_error([&] { save_safetensors(path("x.safetensors"), {{"__metadata__", Tensor::ones({1})}}); },
               {"reserved"});
  expect_error([&] { save_safetensors(path("x.safetensors"), {{"bad\xff", Tensor::ones({1})}}); },
               {"cannot encode the header"});
  EXPECT_TRUE(listing().empty());
}

TEST_F(SafetensorsTest, RandomCorruptionIsAnErrorOrReadsInBounds) {
  save_safetensors(path("x.safetensors"), {{"a", Tensor::ones({3, 2})}, {"b", Tensor::ones({5}, DType::u8)},
                                           {"c", Tensor::ones({2}, DType::f64)}},
                   {{"k", "v"}});
  const std::string good = read_bytes(path("x.safetensors"));
  Generator gen(23);
  int rejected = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(gen.next_uniform() * 3);
    for (int i = 0; i < flips; ++i) {
      const size_t at = static_cast<size_t>(gen.next_uniform() * bytes.size());
      bytes[at] = static_cast<char>(gen.next_uniform() < 0.5 ? gen.next_uniform() * 256 : '0' + gen.next_uniform() * 10);
    }
    if (gen.next_uniform() < 0.2) bytes.resize(static_cast<size_t>(gen.next_uniform() * bytes.size()));
    const std::string file = write_raw("fuzz.safetensors", bytes);
    try {
      const SafetensorsFile f(file);
      for (const std::string& name : f.names()) f.load(name);
    } catch (const Error& e) {
      ++rejected;
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(rejected, 100);  // most corruptions are caught; the rest only changed data bytes
}

// ---- atomic writes ----

TEST_F(SafetensorsTest, OverwritesAtomicallyAndLeavesNoTemporaryFiles) {
  const std::string target = path("w.safetensors");
  save_safetensors(target, {{"w", Tensor::full({4}, 1.0)}});
  save_safetensors(target, {{"w", Tensor::full({4}, 2.0)}, {"v", Tensor::ones({2})}});
  EXPECT_EQ(listing(), std::vector<std::string>{"w.safetensors"});
  EXPECT_EQ(SafetensorsFile(target).load("w").to_double_vector(), (std::vector<double>{2, 2, 2, 2}));
  // A reader that mapped the old file keeps seeing it whole after it is replaced.
  const SafetensorsFile old_view(target);
  save_safetensors(target, {{"w", Tensor::full({4}, 3.0)}, {"v", Tensor::ones({2})}});
  EXPECT_EQ(old_view.load("w").to_double_vector(), (std::vector<double>{2, 2, 2, 2}));
  EXPECT_EQ(SafetensorsFile(target).load("w").to_double_vector(), (std::vector<double>{3, 3, 3, 3}));
}

TEST_F(SafetensorsTest, FailedWritesKeepTheOldFileAndRemoveTheTemporary) {
  const std::string target = path("w.safetensors");
  save_safetensors(target, {{"w", Tensor::full({4}, 1.0)}});
  const std::string before = read_bytes(target);
  const std::map<std::string, Tensor> big = {{"w", Tensor::ones({1 << 16})}};

  // A tensor that cannot be written: rejected before the temporary file exists.
  expect_error([&] { save_safetensors(target, {{"a", Tensor::ones({2})}, {"w", Tensor()}}); }, {target, "'w'"});
  EXPECT_EQ(read_bytes(target), before);

  // The write itself fails half-way (file size limit: EFBIG, the signal ignored so that write returns the error).
  {
    struct rlimit old_limit {};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    struct rlimit limit = old_limit;
    limit.rlim_cur = 4096;
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
    bool threw = false;
    try {
      save_safetensors(target, big);
    } catch (const Error& e) {
      threw = std::string(e.what()).find("write to") != std::string::npos;
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    EXPECT_TRUE(threw);
  }
  EXPECT_EQ(read_bytes(target), before);
  EXPECT_EQ(listing(), std::vector<std::string>{"w.safetensors"});

  // Everything written, but the rename fails (the target is a folder): the temporary file goes, the folder stays.
  const std::string folder = path("taken");
  fs::create_directories(folder + "/inside");
  expect_error([&] { save_safetensors(folder, big); }, {folder, "cannot rename"});
  EXPECT_TRUE(fs::is_directory(folder + "/inside"));
  EXPECT_EQ(listing(), (std::vector<std::string>{"taken", "w.safetensors"}));

  // A folder that does not exist.
  const std::string nowhere = path("no/such/dir/w.safetensors");
  expect_error([&] { save_safetensors(nowhere, big); }, {nowhere, "cannot create the temporary file"});
}

TEST_F(SafetensorsTest, ReadOnlyFolderIsAnErrorAndKeepsTheOldFile) {
  const std::map<std::string, Tensor> big = {{"w", Tensor::ones({1 << 16})}};
  const std::string locked = path("locked");
  fs::create_directories(locked);
  save_safetensors(locked + "/w.safetensors", {{"w", Tensor::full({4}, 1.0)}});
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  if (::access(locked.c_str(), W_OK) == 0) {
    fs::permissions(locked, fs::perms::owner_all);
    GTEST_SKIP() << "this process may write into read-only folders (root): nothing to test";
  }
  expect_error([&] { save_safetensors(locked + "/w.safetensors", big); }, {"cannot create the temporary file"});
  fs::permissions(locked, fs::perms::owner_all);
  EXPECT_EQ(SafetensorsFile(locked + "/w.safetensors").load("w").to_double_vector(), (std::vector<double>{1, 1, 1, 1}));
}
