// Segmentation datasets: a list of (image, label map) pairs read on demand. Every dataset hands out RGB u8 images
// and u8 label maps whose values are train ids in [0, num_classes) or the dataset's ignore index, so the loader,
// the trainer and the evaluator never need to know which dataset they are looking at.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/named_registry.h"
#include "core/tensor.h"

namespace atrous {

struct LabeledImage {
  Tensor image;    // u8 [H,W,3] RGB
  Tensor label;    // u8 [H,W]: train id per pixel, or ignore_index(); same H,W as the image (checked when read)
  std::string id;  // stable name for reports and written masks, e.g. "2007_000032" or "0016E5_07959"
};

class SegmentationDataset {
 public:
  virtual ~SegmentationDataset() = default;
  virtual int64_t size() const = 0;
  // Thread-safe: the loader calls it from several workers at once. A missing, unreadable or corrupt file, or an
  // image whose size differs from its label's, is an atrous::Error naming the file(s).
  virtual LabeledImage get(int64_t index) const = 0;
  virtual int num_classes() const = 0;
  virtual int ignore_index() const = 0;
  virtual std::string palette_name() const = 0;  // for palette_by_name(): "voc", "camvid", "cityscapes"
  virtual std::string describe() const = 0;      // one line: kind, root, split, number of images
};

// Which dataset to open. kind: "voc" | "camvid" | "cityscapes" | "synthetic".
//  voc:        root holds JPEGImages/, SegmentationClass/ (or SegmentationClassAug/ when `augmented`), and
//              ImageSets/Segmentation/<split>.txt; 21 classes, ignore 255.
//  camvid:     root holds <split>.txt with "IMAGE LABEL" per line, paths relative to root; 11 classes, ignore 11.
//  cityscapes: root holds leftImg8bit/<split>/<city>/*_leftImg8bit.png and gtFine/<split>/<city>/*_gtFine_labelIds.png;
//              label ids are mapped to the 19 train ids, everything else to 255.
//  synthetic:  generated (data/synthetic.h); split "train" and "val" draw disjoint index ranges; root is ignored.
struct DatasetSpec {
  std::string kind;
  std::string root;
  std::string split = "train";
  bool augmented = false;        // voc: SegmentationClassAug
  int64_t limit = 0;             // > 0: only the first `limit` images of the list (smoke runs, reduced configs)
  // synthetic only
  int synthetic_size = 64;       // image height and width
  int synthetic_classes = 4;
  int64_t synthetic_count = 256;
  uint64_t synthetic_seed = 1;
};

// A dataset kind: its name (DatasetSpec::kind) and how to open it.
struct DatasetKind {
  std::string name;
  std::function<std::unique_ptr<SegmentationDataset>(const DatasetSpec&)> open;
};

// Every kind, in the order help texts list them.
const NamedRegistry<DatasetKind>& dataset_kinds();

// Opens and validates the list (every listed file must exist; a missing one is an error naming it and the list),
// but reads no image yet. An unknown kind is an error listing the known ones.
std::unique_ptr<SegmentationDataset> open_dataset(const DatasetSpec& spec);

}  // namespace atrous
