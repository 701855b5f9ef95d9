// safetensors reader (read-only mmap, header fully validated before any tensor is touched) and atomic writer.
// Format: github.com/huggingface/safetensors (README, "Format"). Hosts are little-endian, like the format.
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/half.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; so must the host be");

namespace atrous {
namespace {

using json = nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";
// The header is padded so that the data section starts 8-byte aligned, as the reference writer does.
constexpr size_t kHeaderAlignment = 8;

// Every dtype of the format, with its element size. Only some can be loaded; the others still take part in the
// header's size and overlap checks so that a file holding them stays readable for the rest.
struct FileDType {
  const char* name;
  size_t size;
};
constexpr FileDType kFileDTypes[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
                                     {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
                                     {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};

const FileDType* find_file_dtype(const std::string& name) {
  for (const FileDType& d : kFileDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

const char* file_dtype_of(DType t, SafetensorsFloat floats) {
  switch (t) {
    case DType::i32: return "I32";
    case DType::u8: return "U8";
    case DType::f32:
    case DType::f64:
      switch (floats) {
        case SafetensorsFloat::keep: return t == DType::f32 ? "F32" : "F64";
        case SafetensorsFloat::f32: return "F32";
        case SafetensorsFloat::f16: return "F16";
        case SafetensorsFloat::bf16: return "BF16";
      }
  }
  return "?";
}

std::string errno_text(int err) { return std::strerror(err); }

// ---- writing ----

// Owns the temporary file until it is renamed into place; on any failure the destructor closes and removes it.
class TempFile {
 public:
  explicit TempFile(const std::string& target) : target_(target) {
    static std::atomic<uint64_t> counter{0};
    const size_t slash = target.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "" : target.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
    // Same folder as the target (rename is atomic only within one file system); hidden, and unique per process
    // and call so that concurrent writers never share a temporary file.
    path_ = dir + "." + base + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    ATROUS_CHECK(fd_ >= 0, "save_safetensors: ", target, ": cannot create the temporary file ", path_, ": ",
                 errno_text(errno));
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t n = ::write(fd_, p, std::min<size_t>(bytes, size_t(1) << 30));
      if (n < 0 && errno == EINTR) continue;
      ATROUS_CHECK(n > 0, "save_safetensors: ", target_, ": write to ", path_, " failed: ",
                   errno_text(n < 0 ? errno : EIO));
      p += n;
      bytes -= static_cast<size_t>(n);
    }
  }

  // fsync, close and rename over the target; then fsync the folder so that the rename itself is durable.
  void commit() {
    ATROUS_CHECK(::fsync(fd_) == 0, "save_safetensors: ", target_, ": fsync of ", path_, " failed: ",
                 errno_text(errno));
    const int fd = fd_;
    fd_ = -1;
    ATROUS_CHECK(::close(fd) == 0, "save_safetensors: ", target_, ": closing ", path_, " failed: ", errno_text(errno));
    ATROUS_CHECK(::rename(path_.c_str(), target_.c_str()) == 0, "save_safetensors: ", target_, ": cannot rename ",
                 path_, " into place: ", errno_text(errno));
    committed_ = true;
    const size_t slash = target_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : target_.substr(0, slash));
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {  // best effort: some file systems cannot sync a folder, and the file is complete anyway
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }

 private:
  std::string target_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `t` (contiguous, on the CPU) as `file_dtype`, converting in chunks so that an export needs no second
// copy of the tensor.
void write_tensor_data(TempFile& out, const Tensor& t, const std::string& file_dtype) {
  const int64_t n = t.numel();
  const bool same = (file_dtype == "F32" && t.dtype() == DType::f32) || (file_dtype == "F64" && t.dtype() == DType::f64) ||
                    file_dtype == "I32" || file_dtype == "U8";
  if (same) {
    out.write(t.raw_data(), static_cast<size_t>(n) * dtype_size(t.dtype()));
    return;
  }
  constexpr int64_t kChunk = 1 << 16;
  std::vector<unsigned char> buffer;
  dispatch_floating(t.dtype(), "save_safetensors", [&](auto tag) {
    using T = decltype(tag);
    const T* src = t.data<T>();
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t count = std::min(kChunk, n - first);
      if (file_dtype == "F32") {
        buffer.resize(static_cast<size_t>(count) * 4);
        float* dst = reinterpret_cast<float*>(buffer.data());
        for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(src[first + i]);
      } else {
        buffer.resize(static_cast<size_t>(count) * 2);
        uint16_t* dst = reinterpret_cast<uint16_t*>(buffer.data());
        const bool half = file_dtype == "F16";
        for (int64_t i = 0; i < count; ++i) {
          const double v = static_cast<double>(src[first + i]);
          dst[i] = half ? f16_from_double(v) : bf16_from_double(v);
        }
      }
      out.write(buffer.data(), buffer.size());
    }
  });
}

// ---- reading ----

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

template <typename T>
T load_unaligned(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata, const SafetensorsSaveOptions& options) {
  // Everything that can be checked is checked before the temporary file exists.
  for (const auto& [name, t] : tensors) {
    ATROUS_CHECK(name != kMetadataKey, "save_safetensors: ", path, ": '", kMetadataKey,
                 "' is reserved and cannot name a tensor");
    ATROUS_CHECK(t.defined(), "save_safetensors: ", path, ": tensor '", name, "' is undefined");
  }

  // Layout: larger elements first (then by name), so that every tensor is naturally aligned in a mapping of the
  // file, as the reference writer arranges it.
  struct Item {
    const std::string* name;
    const Tensor* tensor;
    const char* file_dtype;
    size_t element_size;
  };
  std::vector<Item> items;
  for (const auto& [name, t] : tensors) {
    const char* fd = file_dtype_of(t.dtype(), options.floats);
    items.push_back({&name, &t, fd, find_file_dtype(fd)->size});
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.element_size > b.element_size; });

  std::string header_text;
  try {
    json header = json::object();
    uint64_t offset = 0;
    for (const Item& item : items) {
      const uint64_t bytes = static_cast<uint64_t>(item.tensor->numel()) * item.element_size;
      json entry = json::object();
      entry["dtype"] = item.file_dtype;
      entry["shape"] = item.tensor->shape();
      entry["data_offsets"] = {offset, offset + bytes};
      header[*item.name] = std::move(entry);
      offset += bytes;
    }
    if (!metadata.empty()) header[kMetadataKey] = metadata;
    header_text = header.dump();
  } catch (const json::exception& e) {  // e.g. a name or metadata string that is not valid UTF-8
    ATROUS_FAIL("save_safetensors: ", path, ": cannot encode the header: ", e.what());
  }
  header_text.append((kHeaderAlignment - header_text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');

  TempFile out(path);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(uint64_t(header_text.size()) >> (8 * i));
  out.write(length, sizeof(length));
  out.write(header_text.data(), header_text.size());
  for (const Item& item : items) {
    // One host copy at a time (only for CUDA or strided tensors): never a second copy of everything.
    const Tensor host = item.tensor->to(Device::cpu()).contiguous();
    write_tensor_data(out, host, item.file_dtype);
  }
  out.commit();
}

// ---- SafetensorsFile ----

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ATROUS_CHECK(fd >= 0, "safetensors: cannot open ", path, ": ", errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    ATROUS_FAIL("safetensors: ", path, ": cannot stat: ", errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    ATROUS_FAIL("safetensors: ", path, ": not a regular file");
  }
  map_size_ = static_cast<size_t>(st.st_size);
  if (map_size_ < 8) {
    ::close(fd);
    ATROUS_FAIL("safetensors: ", path, ": file is ", map_size_,
                " bytes, shorter than the 8-byte header length that starts every safetensors file");
  }
  void* m = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps the file alive
  ATROUS_CHECK(m != MAP_FAILED, "safetensors: ", path, ": mmap of ", map_size_, " bytes failed: ", errno_text(err));
  map_ = static_cast<const unsigned char*>(m);
  try {
    parse_header();
  } catch (...) {
    release();
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() { release(); }

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      data_start_(other.data_start_),
      entries_(std::move(other.entries_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    data_start_ = other.data_start_;
    entries_ = std::move(other.entries_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

void SafetensorsFile::release() {
  if (map_) ::munmap(const_cast<unsigned char*>(map_), map_size_);
  map_ = nullptr;
  map_size_ = 0;
}

void SafetensorsFile::parse_header() {
  const std::string& p = path_;
  const uint64_t header_len = read_u64_le(map_);
  ATROUS_CHECK(header_len <= map_size_ - 8, "safetensors: ", p, ": header length ", header_len,
               " goes beyond the end of the file (", map_size_, " bytes): truncated or not a safetensors file");
  data_start_ = 8 + static_cast<size_t>(header_len);
  const uint64_t data_size = map_size_ - data_start_;

  json header;
  try {
    header = json::parse(map_ + 8, map_ + data_start_);
  } catch (const json::exception& e) {
    ATROUS_FAIL("safetensors: ", p, ": header is not valid JSON: ", e.what());
  }
  ATROUS_CHECK(header.is_object(), "safetensors: ", p, ": header is not a JSON object");

  auto non_negative = [&](const json& v, const std::string& name, const char* what) -> uint64_t {
    ATROUS_CHECK(v.is_number_unsigned(), "safetensors: ", p, ": tensor '", name, "': ", what,
                 " must hold non-negative integers, got ", v.dump());
    return v.get<uint64_t>();
  };

  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      ATROUS_CHECK(value.is_object(), "safetensors: ", p, ": '", kMetadataKey, "' must be an object of strings");
      for (const auto& [key, text] : value.items()) {
        ATROUS_CHECK(text.is_string(), "safetensors: ", p, ": metadata '", key, "' is not a string: ", text.dump());
        metadata_[key] = text.get<std::string>();
      }
      continue;
    }
    ATROUS_CHECK(value.is_object(), "safetensors: ", p, ": tensor '", name, "': entry is not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      ATROUS_CHECK(value.contains(field), "safetensors: ", p, ": tensor '", name, "': entry lacks '", field, "'");
    }
    SafetensorsInfo info;
    const json& dtype = value["dtype"];
    ATROUS_CHECK(dtype.is_string(), "safetensors: ", p, ": tensor '", name, "': dtype is not a string");
    info.dtype = dtype.get<std::string>();
    const FileDType* fd = find_file_dtype(info.dtype);
    ATROUS_CHECK(fd, "safetensors: ", p, ": tensor '", name, "': unsupported dtype '", info.dtype, "'");

    const json& shape = value["shape"];
    ATROUS_CHECK(shape.is_array(), "safetensors: ", p, ": tensor '", name, "': shape is not an array");
    // Element count with an overflow check: a corrupt shape must not wrap around to a size that "fits".
    uint64_t numel = 1;
    bool overflow = false, has_zero = false;
    for (const json& d : shape) {
      const uint64_t extent = non_negative(d, name, "shape");
      ATROUS_CHECK(extent <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "safetensors: ", p,
                   ": tensor '", name, "': shape extent ", extent, " is too large");
      info.shape.push_back(static_cast<int64_t>(extent));
      if (extent != 0 && numel > std::numeric_limits<uint64_t>::max() / 8 / extent) overflow = true;
      has_zero |= extent == 0;
      numel *= extent;
    }
    ATROUS_CHECK(!overflow || has_zero, "safetensors: ", p, ": tensor '", name, "': shape ", shape_str(info.shape),
                 " is too large");

    const json& offsets = value["data_offsets"];
    ATROUS_CHECK(offsets.is_array() && offsets.size() == 2, "safetensors: ", p, ": tensor '", name,
                 "': data_offsets must be [begin, end]");
    info.begin = non_negative(offsets[0], name, "data_offsets");
    info.end = non_negative(offsets[1], name, "data_offsets");
    ATROUS_CHECK(info.begin <= info.end, "safetensors: ", p, ": tensor '", name, "': data_offsets [", info.begin,
                 ", ", info.end, "] end before they begin");
    const uint64_t bytes = numel * fd->size;
    ATROUS_CHECK(info.end - info.begin == bytes, "safetensors: ", p, ": tensor '", name, "': data_offsets [",
                 info.begin, ", ", info.end, "] span ", info.end - info.begin, " bytes, but shape ",
                 shape_str(info.shape), " of ", info.dtype, " needs ", bytes);
    ATROUS_CHECK(info.end <= data_size, "safetensors: ", p, ": tensor '", name, "': data_offsets [", info.begin,
                 ", ", info.end, "] lie outside the data section (", data_size, " bytes): truncated file?");
    entries_[name] = std::move(info);
  }

  // No two tensors may share bytes (empty tensors occupy none).
  std::vector<const std::pair<const std::string, SafetensorsInfo>*> by_offset;
  for (const auto& e : entries_)
    if (e.second.end > e.second.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->second.begin < b->second.begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto& prev = *by_offset[i - 1];
    const auto& cur = *by_offset[i];
    ATROUS_CHECK(prev.second.end <= cur.second.begin, "safetensors: ", p, ": tensors '", prev.first, "' [",
                 prev.second.begin, ", ", prev.second.end, ") and '", cur.first, "' [", cur.second.begin, ", ",
                 cur.second.end, ") overlap");
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.first);
  return out;
}

const SafetensorsInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = entries_.find(name);
  if (it != entries_.end()) return it->second;
  std::string known;
  size_t listed = 0;
  for (const auto& e : entries_) {
    if (listed++ == 8) {
      known += ", ...";
      break;
    }
    known += (known.empty() ? "" : ", ") + e.first;
  }
  ATROUS_FAIL("safetensors: ", path_, ": no tensor named '", name, "' (", entries_.size(), " tensors: ", known, ")");
}

const unsigned char* SafetensorsFile::raw_data(const std::string& name) const {
  return map_ + data_start_ + info(name).begin;
}

Tensor SafetensorsFile::load(const std::string& name) const {
  const SafetensorsInfo& e = info(name);
  Tensor out = convert(name, e);
  // The mapped pages are page cache, not our memory, but they count as resident: drop them once copied so that
  // loading a model tensor by tensor keeps the resident size at the model's (a later access re-reads the file).
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t first = (data_start_ + e.begin) / page * page;
  const size_t last = std::min(map_size_, (data_start_ + static_cast<size_t>(e.end) + page - 1) / page * page);
  if (last > first) ::madvise(const_cast<unsigned char*>(map_) + first, last - first, MADV_DONTNEED);
  return out;
}

Tensor SafetensorsFile::convert(const std::string& name, const SafetensorsInfo& e) const {
  const unsigned char* src = map_ + data_start_ + e.begin;
  const size_t bytes = static_cast<size_t>(e.end - e.begin);
  const int64_t n = shape_numel(e.shape);
  const std::string& d = e.dtype;

  if (d == "F32" || d == "F64" || d == "I32" || d == "U8" || d == "BOOL") {
    const DType dtype = d == "F32" ? DType::f32 : d == "F64" ? DType::f64 : d == "I32" ? DType::i32 : DType::u8;
    Tensor out = Tensor::empty(e.shape, dtype);
    if (bytes) std::memcpy(out.raw_data(), src, bytes);
    if (d == "BOOL") {
      uint8_t* v = out.data<uint8_t>();
      for (int64_t i = 0; i < n; ++i) v[i] = v[i] != 0;
    }
    return out;
  }
  if (d == "F16" || d == "BF16") {
    Tensor out = Tensor::empty(e.shape, DType::f32);
    float* dst = out.data<float>();
    const bool half = d == "F16";
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = load_unaligned<uint16_t>(src + 2 * i);
      dst[i] = half ? float_from_f16(h) : float_from_bf16(h);
    }
    return out;
  }
  if (d == "I64") {
    Tensor out = Tensor::empty(e.shape, DType::i32);
    int32_t* dst = out.data<int32_t>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = load_unaligned<int64_t>(src + 8 * i);
      ATROUS_CHECK(v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(),
                   "safetensors: ", path_, ": tensor '", name, "': I64 value ", v, " at element ", i,
                   " does not fit the i32 tensor it is loaded into");
      dst[i] = static_cast<int32_t>(v);
    }
    return out;
  }
  ATROUS_FAIL("safetensors: ", path_, ": tensor '", name, "': dtype ", d,
              " cannot be loaded (supported: F32, F64, F16, BF16, I32, I64, U8, BOOL)");
}

std::map<std::string, Tensor> load_safetensors(const std::string& path) {
  const SafetensorsFile file(path);
  std::map<std::string, Tensor> out;
  for (const std::string& name : file.names()) out.emplace(name, file.load(name));
  return out;
}

}  // namespace atrous
