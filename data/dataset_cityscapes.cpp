// Cityscapes fine annotations: leftImg8bit/<split>/<city>/<name>_leftImg8bit.png with
// gtFine/<split>/<city>/<name>_gtFine_labelIds.png. The 34 label ids (0..33, and 255 where the license plate's -1
// was stored) map to the 19 train ids of the benchmark; every other class is ignored (255).
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "data/dataset_impl.h"

namespace atrous::detail {
namespace {

namespace fs = std::filesystem;

// The benchmark's evaluated classes (Cordts et al. 2016, Table 1 / cityscapesScripts labels.py): label id -> train id.
LabelTable cityscapes_label_table() {
  LabelTable table;
  table.fill(kInvalidLabel);
  for (int id = 0; id <= 33; ++id) table[id] = 255;
  table[255] = 255;
  const int evaluated[19] = {7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33};
  for (int train_id = 0; train_id < 19; ++train_id) table[evaluated[train_id]] = static_cast<int16_t>(train_id);
  return table;
}

const std::string kImageSuffix = "_leftImg8bit.png";
const std::string kLabelSuffix = "_gtFine_labelIds.png";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::unique_ptr<SegmentationDataset> open_cityscapes(const DatasetSpec& spec) {
  require_directory(spec.root, "cityscapes dataset");
  const fs::path image_root = fs::path(spec.root) / "leftImg8bit" / spec.split;
  const fs::path label_root = fs::path(spec.root) / "gtFine" / spec.split;
  require_directory(image_root.string(), "cityscapes dataset, split '" + spec.split + "'");
  require_directory(label_root.string(), "cityscapes dataset, split '" + spec.split + "'");
  std::vector<SampleFiles> files;
  // Sorted so that the order (and hence shuffles and `limit`) does not depend on the file system.
  std::vector<fs::path> images;
  for (const fs::directory_entry& city : fs::directory_iterator(image_root)) {
    if (!city.is_directory()) continue;
    for (const fs::directory_entry& entry : fs::directory_iterator(city.path())) {
      if (entry.is_regular_file() && ends_with(entry.path().filename().string(), kImageSuffix)) {
        images.push_back(entry.path());
      }
    }
  }
  std::sort(images.begin(), images.end());
  for (const fs::path& image : images) {
    const std::string name = image.filename().string();
    SampleFiles f;
    f.id = name.substr(0, name.size() - kImageSuffix.size());
    f.image = image.string();
    f.label = (label_root / image.parent_path().filename() / (f.id + kLabelSuffix)).string();
    require_file(f.label, "cityscapes image '" + f.image + "'");
    files.push_back(std::move(f));
  }
  apply_limit(files, spec.limit, "cityscapes folder '" + image_root.string() + "'");
  FileDatasetInfo info{"cityscapes", spec.root, spec.split, 19, 255, "cityscapes", cityscapes_label_table()};
  return std::make_unique<FileDataset>(std::move(info), std::move(files));
}

}  // namespace atrous::detail
