// safetensors files (github.com/huggingface/safetensors format): an 8-byte little-endian header length N, N bytes
// of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then raw data.
// How weights and checkpoints are stored and exchanged with PyTorch tools.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace atrous {

// How floating tensors are stored. Integer tensors (i32, u8) are always stored as they are.
enum class SafetensorsFloat {
  keep,  // f32 -> F32, f64 -> F64
  f32,   // f64 narrowed to F32
  f16,   // IEEE half, round to nearest even (export for inference tools)
  bf16,  // bfloat16, round to nearest even
};

struct SafetensorsSaveOptions {
  SafetensorsFloat floats = SafetensorsFloat::keep;
};

// Writes `tensors` (any device, any strides; stored contiguous) and string metadata. Atomic: the data goes to a
// temporary file in the same folder, is fsync'ed and renamed over `path`, so `path` is either the old file or the
// complete new one, and no temporary file is left behind on failure. Names must be non-empty and not
// "__metadata__".
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {},
                      const SafetensorsSaveOptions& options = {});

// One tensor's entry in the header.
struct SafetensorsInfo {
  std::string dtype;     // as in the file: "F32", "BF16", "I64", ...
  Shape shape;
  uint64_t begin = 0;    // byte offsets within the data section
  uint64_t end = 0;
};

// A read-only memory mapping of a safetensors file. The whole header is validated on open (errors name the file
// and the tensor); tensors are copied out one at a time by load(), so reading a large file needs the memory of one
// tensor beyond the result, never a second copy of the file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  const SafetensorsInfo& info(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A new CPU tensor: F32 -> f32, F64 -> f64, F16/BF16 -> f32 (exact), I32 -> i32, I64 -> i32 (values must fit),
  // U8 -> u8, BOOL -> u8. Other dtypes of the format (I8, U16, F8_E4M3, ...) are an error naming the tensor.
  Tensor load(const std::string& name) const;
  // The stored bytes of one tensor, inside the mapping (valid while this object lives).
  const unsigned char* raw_data(const std::string& name) const;

 private:
  void parse_header();
  Tensor convert(const std::string& name, const SafetensorsInfo& e) const;
  void release();

  std::string path_;
  const unsigned char* map_ = nullptr;
  size_t map_size_ = 0;
  size_t data_start_ = 0;  // 8 + header length
  std::map<std::string, SafetensorsInfo> entries_;
  std::map<std::string, std::string> metadata_;
};

// Every tensor of the file (needs the memory of all of them; prefer SafetensorsFile for large files).
std::map<std::string, Tensor> load_safetensors(const std::string& path);

}  // namespace atrous
