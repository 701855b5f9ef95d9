// NumPy .npy reader and writer (format spec: numpy/lib/format.py, versions 1.0, 2.0 and 3.0). Hosts are assumed
// little-endian, like every machine we target; big-endian files are rejected rather than byte-swapped.
#include "core/npy.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace atrous {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy pads the preamble + header to a multiple of 64 bytes so that the data is aligned for memory mapping.
constexpr size_t kHeaderAlignment = 64;

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// How the data is stored on disk, and the tensor it becomes.
struct DiskType {
  DType dtype;
  size_t item_size;  // bytes per element on disk (8 for i8, which we narrow to i32)
  bool is_int64 = false;
  bool is_bool = false;
};

// ---- header parsing: the header is a Python dict literal, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  Header parse() {
    Header h;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!peek_is('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        skip_space();
        if (peek_is('[')) fail("unsupported dtype: structured arrays are not supported");
        h.descr = parse_string();
        has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
        has_order = true;
      } else if (key == "shape") {
        h.shape = parse_shape();
        has_shape = true;
      } else {
        fail("unexpected key '" + key + "' in header");
      }
      skip_space();
      if (peek_is(',')) ++pos_;
    }
    expect('}');
    if (!has_descr || !has_order || !has_shape) fail("header lacks one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    ATROUS_FAIL("load_npy: ", path_, ": ", what, " (header: ", s_, ")");
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool peek_is(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek_is(c)) fail(std::string("malformed header, expected '") + c + "' at offset " + std::to_string(pos_));
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) fail("malformed header, expected a quoted string");
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == std::string::npos) fail("malformed header, unterminated string");
    std::string out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("malformed header, 'fortran_order' is neither True nor False");
  }
  Shape parse_shape() {
    Shape shape;
    expect('(');
    while (!peek_is(')')) {
      if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        fail("malformed header, bad shape entry at offset " + std::to_string(pos_));
      }
      int64_t d = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        if (d > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("shape dimension too large");
        d = d * 10 + (s_[pos_++] - '0');
      }
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long suffix
      shape.push_back(d);
      if (peek_is(',')) ++pos_;
    }
    expect(')');
    return shape;
  }

  const std::string& s_;
  const std::string& path_;
  size_t pos_ = 0;
};

DiskType disk_type(const std::string& descr, const std::string& path) {
  ATROUS_CHECK(descr.size() >= 2, "load_npy: ", path, ": unsupported dtype '", descr, "'");
  const char order = descr[0];
  const std::string kind = descr.substr(1);
  const bool single_byte = kind == "u1" || kind == "b1";
  ATROUS_CHECK(order != '>' || single_byte, "load_npy: ", path, ": big-endian data ('", descr,
               "') is not supported; convert it with arr.astype(arr.dtype.newbyteorder('<'))");
  ATROUS_CHECK(order == '<' || order == '|' || order == '=' || order == '>', "load_npy: ", path,
               ": unsupported dtype '", descr, "'");
  if (kind == "f4") return {DType::f32, 4};
  if (kind == "f8") return {DType::f64, 8};
  if (kind == "i4") return {DType::i32, 4};
  if (kind == "u1") return {DType::u8, 1};
  if (kind == "b1") return {DType::u8, 1, false, true};
  if (kind == "i8") return {DType::i32, 8, true};
  ATROUS_FAIL("load_npy: ", path, ": unsupported dtype '", descr, "' (supported: <f4, <f8, <i4, <i8, |u1, |b1)");
}

const char* descr_of(DType t) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i32: return "<i4";
    case DType::u8: return "|u1";
  }
  return "?";
}

uint32_t read_le(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string header_text(const Tensor& t) {
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
  shape += t.dim() == 1 ? ",)" : ")";  // Python's one-element tuple
  return std::string("{'descr': '") + descr_of(t.dtype()) + "', 'fortran_order': False, 'shape': " + shape + ", }";
}

// Reads exactly `bytes` or reports how much was there.
void read_exact(std::FILE* f, void* dst, size_t bytes, const std::string& path, const char* what) {
  const size_t got = std::fread(dst, 1, bytes, f);
  ATROUS_CHECK(got == bytes, "load_npy: ", path, ": truncated file while reading the ", what, " (needed ", bytes,
               " bytes, found ", got, ")");
}

std::string temp_path_for(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

}  // namespace

void save_npy(const Tensor& tensor, const std::string& path) {
  ATROUS_CHECK(tensor.defined(), "save_npy: ", path, ": cannot save an undefined tensor");
  const Tensor t = tensor.to(Device::cpu()).contiguous();  // logical order, whatever the source's strides

  // Preamble (magic, version, length) + header + '\n', padded with spaces to the alignment. Version 2.0 only when
  // the header outgrows the 16-bit length of 1.0 (rank in the thousands).
  const std::string dict = header_text(t);
  auto padded_header = [&](size_t preamble) {
    const size_t total = preamble + dict.size() + 1;
    const size_t padded = (total + kHeaderAlignment - 1) / kHeaderAlignment * kHeaderAlignment;
    return dict + std::string(padded - total, ' ') + "\n";
  };
  int major = 1;
  std::string header = padded_header(kMagicSize + 2 + 2);
  if (header.size() > 0xFFFF) {
    major = 2;
    header = padded_header(kMagicSize + 2 + 4);
  }
  const size_t header_len = header.size();

  std::vector<unsigned char> head(kMagic, kMagic + kMagicSize);
  head.push_back(static_cast<unsigned char>(major));
  head.push_back(0);
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) head.push_back(static_cast<unsigned char>(header_len >> (8 * i)));
  head.insert(head.end(), header.begin(), header.end());

  // Write to a temporary file in the same folder and rename it over the target, so that readers never see a
  // half-written file (rename within one file system is atomic).
  const std::string temp = temp_path_for(path);
  bool ok = false;
  {
    File f(std::fopen(temp.c_str(), "wb"));
    ATROUS_CHECK(f, "save_npy: cannot open ", temp, " for writing (saving ", path, "): ", std::strerror(errno));
    const size_t data_bytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
    ok = std::fwrite(head.data(), 1, head.size(), f.get()) == head.size() &&
         (data_bytes == 0 || std::fwrite(t.raw_data(), 1, data_bytes, f.get()) == data_bytes);
    ok = std::fflush(f.get()) == 0 && ok;
    ok = std::fclose(f.release()) == 0 && ok;
  }
  if (!ok) {
    const int err = errno;
    std::remove(temp.c_str());
    ATROUS_FAIL("save_npy: ", path, ": write failed: ", std::strerror(err));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(temp.c_str());
    ATROUS_FAIL("save_npy: ", path, ": cannot rename ", temp, " into place: ", std::strerror(err));
  }
}

Tensor load_npy(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  ATROUS_CHECK(f, "load_npy: cannot open ", path, ": ", std::strerror(errno));
  ATROUS_CHECK(std::fseek(f.get(), 0, SEEK_END) == 0, "load_npy: ", path, ": cannot seek");
  const long file_size = std::ftell(f.get());
  ATROUS_CHECK(file_size >= 0, "load_npy: ", path, ": cannot determine the file size");
  std::rewind(f.get());

  unsigned char preamble[kMagicSize + 2];
  const size_t got = std::fread(preamble, 1, sizeof(preamble), f.get());
  ATROUS_CHECK(got >= kMagicSize && std::memcmp(preamble, kMagic, kMagicSize) == 0, "load_npy: ", path,
               ": not a .npy file (bad magic string)");
  ATROUS_CHECK(got == sizeof(preamble), "load_npy: ", path, ": truncated header (file is ", file_size, " bytes)");
  const int major = preamble[kMagicSize];
  ATROUS_CHECK(major >= 1 && major <= 3, "load_npy: ", path, ": unsupported format version ", major, ".",
               int(preamble[kMagicSize + 1]), " (supported: 1.0, 2.0, 3.0)");
  const int len_bytes = major == 1 ? 2 : 4;
  unsigned char len_buf[4];
  read_exact(f.get(), len_buf, len_bytes, path, "header length");
  const uint32_t header_len = read_le(len_buf, len_bytes);
  const long header_end = static_cast<long>(sizeof(preamble)) + len_bytes + static_cast<long>(header_len);
  ATROUS_CHECK(header_end <= file_size, "load_npy: ", path, ": truncated header (declares ", header_len,
               " bytes, file is ", file_size, " bytes)");
  std::string text(header_len, '\0');
  read_exact(f.get(), text.data(), header_len, path, "header");

  const Header h = HeaderParser(text, path).parse();
  const DiskType disk = disk_type(h.descr, path);

  int64_t numel = 1;
  for (int64_t d : h.shape) {
    ATROUS_CHECK(d == 0 || numel <= std::numeric_limits<int64_t>::max() / 8 / d, "load_npy: ", path, ": shape ",
                 shape_str(h.shape), " is too large");
    numel *= d;
  }
  const uint64_t data_bytes = static_cast<uint64_t>(numel) * disk.item_size;
  const uint64_t available = static_cast<uint64_t>(file_size - header_end);
  ATROUS_CHECK(available >= data_bytes, "load_npy: ", path, ": data is shorter than shape ", shape_str(h.shape),
               " of ", h.descr, " needs (", data_bytes, " bytes expected, ", available, " found)");
  ATROUS_CHECK(available == data_bytes, "load_npy: ", path, ": ", available - data_bytes,
               " unexpected bytes after the data of shape ", shape_str(h.shape), " of ", h.descr);

  // A Fortran-ordered array is the C-ordered array of the reversed shape, transposed.
  Shape disk_shape = h.shape;
  if (h.fortran_order) disk_shape.assign(h.shape.rbegin(), h.shape.rend());

  Tensor out = Tensor::empty(disk_shape, disk.dtype);
  if (disk.is_int64) {
    std::vector<int64_t> wide(static_cast<size_t>(numel));
    read_exact(f.get(), wide.data(), data_bytes, path, "data");
    int32_t* dst = out.data<int32_t>();
    for (int64_t i = 0; i < numel; ++i) {
      ATROUS_CHECK(wide[i] >= std::numeric_limits<int32_t>::min() && wide[i] <= std::numeric_limits<int32_t>::max(),
                   "load_npy: ", path, ": int64 value ", wide[i], " at element ", i,
                   " does not fit the i32 tensor it is loaded into");
      dst[i] = static_cast<int32_t>(wide[i]);
    }
  } else {
    read_exact(f.get(), out.raw_data(), data_bytes, path, "data");
  }
  if (h.fortran_order && out.dim() > 1) {
    std::vector<int64_t> reverse(out.dim());
    for (int64_t i = 0; i < out.dim(); ++i) reverse[i] = out.dim() - 1 - i;
    out = out.permute(reverse).contiguous();
  }
  return out;
}

}  // namespace atrous
