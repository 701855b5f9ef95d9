// Private to data/dataset*.cpp: the file-backed dataset every on-disk layout reduces to (a list of image/label file
// pairs plus a table from stored label values to train ids), and one opener per layout.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace atrous::detail {

struct SampleFiles {
  std::string image;
  std::string label;
  std::string id;
};

// Stored label value -> train id, ignore index, or kInvalidLabel (an error naming the file and the value).
constexpr int16_t kInvalidLabel = -1;
using LabelTable = std::array<int16_t, 256>;
// Values 0..num_classes-1 map to themselves and `ignore_index` to itself; everything else is invalid.
LabelTable identity_label_table(int num_classes, int ignore_index);

struct FileDatasetInfo {
  std::string kind;  // "voc", "camvid", "cityscapes": for describe() and error messages
  std::string root;
  std::string split;
  int num_classes = 0;
  int ignore_index = 255;
  std::string palette;
  LabelTable labels{};
};

// Reads each pair on demand: checks that the image and the label map have the same size and maps every label
// value through the table. Holds only immutable state, so get() is safe from several threads.
class FileDataset : public SegmentationDataset {
 public:
  FileDataset(FileDatasetInfo info, std::vector<SampleFiles> files);
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  LabeledImage get(int64_t index) const override;
  int num_classes() const override { return info_.num_classes; }
  int ignore_index() const override { return info_.ignore_index; }
  std::string palette_name() const override { return info_.palette; }
  std::string describe() const override;
  const SampleFiles& files(int64_t index) const { return files_.at(static_cast<size_t>(index)); }

 private:
  FileDatasetInfo info_;
  std::vector<SampleFiles> files_;
};

// Shared by the openers: `path` must be a regular file; the message names it and what listed it.
void require_file(const std::string& path, const std::string& listed_by);
void require_directory(const std::string& path, const std::string& what);
// Keeps the first `limit` entries when limit > 0; an empty result is an error naming `source`.
void apply_limit(std::vector<SampleFiles>& files, int64_t limit, const std::string& source);
// A list file's non-empty lines split at whitespace, with their 1-based line numbers; a missing list is an error.
struct ListLine {
  int64_t number = 0;
  std::vector<std::string> fields;
};
std::vector<ListLine> read_list_file(const std::string& path, const std::string& what);
// root + "/" + relative, tolerating a leading '/' in `relative` (some published lists write "/JPEGImages/x.jpg").
std::string join_path(const std::string& root, const std::string& relative);
// "a/b/name.ext" -> "name".
std::string file_stem(const std::string& path);

std::unique_ptr<SegmentationDataset> open_voc(const DatasetSpec& spec);
std::unique_ptr<SegmentationDataset> open_camvid(const DatasetSpec& spec);
std::unique_ptr<SegmentationDataset> open_cityscapes(const DatasetSpec& spec);
std::unique_ptr<SegmentationDataset> open_synthetic(const DatasetSpec& spec);

}  // namespace atrous::detail
