// PASCAL VOC 2012 segmentation layout: ImageSets/Segmentation/<split>.txt names images by id; JPEGImages/<id>.jpg
// and SegmentationClass/<id>.png (palette PNG; 255 marks object borders, ignored), or SegmentationClassAug/<id>.png
// for the SBD-augmented 10,582-image train set. Lines with two fields ("/JPEGImages/x.jpg
// /SegmentationClassAug/x.png", as the DeepLab list files write them) are taken as paths relative to the root.
#include "core/error.h"
#include "data/dataset_impl.h"

namespace atrous::detail {

std::unique_ptr<SegmentationDataset> open_voc(const DatasetSpec& spec) {
  const std::string list = join_path(spec.root, "ImageSets/Segmentation/" + spec.split + ".txt");
  const std::string label_dir = spec.augmented ? "SegmentationClassAug" : "SegmentationClass";
  require_directory(spec.root, "voc dataset");
  std::vector<SampleFiles> files;
  for (const ListLine& line : read_list_file(list, "voc dataset")) {
    SampleFiles f;
    if (line.fields.size() == 1) {
      f.id = line.fields[0];
      f.image = join_path(spec.root, "JPEGImages/" + f.id + ".jpg");
      f.label = join_path(spec.root, label_dir + "/" + f.id + ".png");
    } else {
      ATROUS_CHECK(line.fields.size() == 2, "voc list '", list, "' line ", line.number,
                   ": expected an image id or 'IMAGE LABEL', got ", line.fields.size(), " fields");
      f.image = join_path(spec.root, line.fields[0]);
      f.label = join_path(spec.root, line.fields[1]);
      f.id = file_stem(f.image);
    }
    const std::string where = "'" + list + "' line " + std::to_string(line.number);
    require_file(f.image, where);
    require_file(f.label, where);
    files.push_back(std::move(f));
  }
  apply_limit(files, spec.limit, "voc list '" + list + "'");
  FileDatasetInfo info{"voc", spec.root, spec.split, 21, 255, "voc", identity_label_table(21, 255)};
  return std::make_unique<FileDataset>(std::move(info), std::move(files));
}

}  // namespace atrous::detail
