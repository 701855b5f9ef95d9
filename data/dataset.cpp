// open_dataset's dispatch on the kind, and the file-backed dataset shared by the VOC, CamVid and Cityscapes layouts.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "data/dataset_impl.h"
#include "data/image_io.h"

namespace atrous {
namespace detail {

LabelTable identity_label_table(int num_classes, int ignore_index) {
  LabelTable table;
  table.fill(kInvalidLabel);
  for (int v = 0; v < num_classes && v < 256; ++v) table[v] = static_cast<int16_t>(v);
  if (ignore_index >= 0 && ignore_index < 256) table[ignore_index] = static_cast<int16_t>(ignore_index);
  return table;
}

FileDataset::FileDataset(FileDatasetInfo info, std::vector<SampleFiles> files)
    : info_(std::move(info)), files_(std::move(files)) {}

LabeledImage FileDataset::get(int64_t index) const {
  ATROUS_CHECK(index >= 0 && index < size(), info_.kind, " dataset (", info_.root, ", split ", info_.split, "): index ",
               index, " is outside [0, ", size(), ")");
  const SampleFiles& f = files_[static_cast<size_t>(index)];
  LabeledImage out;
  out.id = f.id;
  out.image = read_image_rgb(f.image);
  out.label = read_label_png(f.label);
  const int64_t h = out.image.size(0), w = out.image.size(1);
  ATROUS_CHECK(out.label.size(0) == h && out.label.size(1) == w, info_.kind, " sample '", f.id, "': image '", f.image,
               "' is ", w, "x", h, " but its label map '", f.label, "' is ", out.label.size(1), "x", out.label.size(0),
               " (width x height)");
  uint8_t* labels = out.label.data<uint8_t>();
  for (int64_t i = 0; i < h * w; ++i) {
    const int16_t mapped = info_.labels[labels[i]];
    ATROUS_CHECK(mapped != kInvalidLabel, info_.kind, " label map '", f.label, "' has value ",
                 static_cast<int>(labels[i]), " at (y ", i / w, ", x ", i % w, "); expected class ids 0..",
                 info_.num_classes - 1, " or the ignore value ", info_.ignore_index,
                 info_.kind == "cityscapes" ? " (Cityscapes labelIds 0..33 or 255)" : "");
    labels[i] = static_cast<uint8_t>(mapped);
  }
  return out;
}

std::string FileDataset::describe() const {
  return detail::concat(info_.kind, " at ", info_.root, ", split ", info_.split, ", ", files_.size(), " images, ",
                        info_.num_classes, " classes, ignore ", info_.ignore_index);
}

void require_file(const std::string& path, const std::string& listed_by) {
  std::error_code ec;
  ATROUS_CHECK(std::filesystem::is_regular_file(path, ec), "missing file '", path, "' (listed by ", listed_by, ")");
}

void require_directory(const std::string& path, const std::string& what) {
  std::error_code ec;
  ATROUS_CHECK(std::filesystem::is_directory(path, ec), what, ": folder '", path, "' does not exist");
}

void apply_limit(std::vector<SampleFiles>& files, int64_t limit, const std::string& source) {
  ATROUS_CHECK(limit >= 0, "dataset limit must be >= 0 (0 = all), got ", limit, " for ", source);
  if (limit > 0 && static_cast<int64_t>(files.size()) > limit) files.resize(static_cast<size_t>(limit));
  ATROUS_CHECK(!files.empty(), source, " lists no images");
}

std::vector<ListLine> read_list_file(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  ATROUS_CHECK(in, what, ": cannot open list file '", path, "'");
  std::vector<ListLine> lines;
  std::string text;
  for (int64_t number = 1; std::getline(in, text); ++number) {
    std::istringstream fields(text);
    ListLine line{number, {}};
    for (std::string field; fields >> field;) line.fields.push_back(field);
    if (!line.fields.empty()) lines.push_back(std::move(line));
  }
  ATROUS_CHECK(!in.bad(), what, ": reading list file '", path, "' failed");
  return lines;
}

std::string join_path(const std::string& root, const std::string& relative) {
  const size_t start = relative.find_first_not_of('/');
  return (std::filesystem::path(root) / relative.substr(start == std::string::npos ? relative.size() : start)).string();
}

std::string file_stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

}  // namespace detail

const NamedRegistry<DatasetKind>& dataset_kinds() {
  static const NamedRegistry<DatasetKind> kinds("dataset kind", {{"voc", detail::open_voc},
                                                                 {"camvid", detail::open_camvid},
                                                                 {"cityscapes", detail::open_cityscapes},
                                                                 {"synthetic", detail::open_synthetic}});
  return kinds;
}

std::unique_ptr<SegmentationDataset> open_dataset(const DatasetSpec& spec) {
  return dataset_kinds().get(spec.kind).open(spec);
}

}  // namespace atrous
