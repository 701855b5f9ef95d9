// CamVid in the SegNet list-file layout: <split>.txt holds "IMAGE LABEL" per line, paths relative to the root;
// label maps are grey PNGs with the 11 class ids 0..10 and 11 for void (ignored).
#include "core/error.h"
#include "data/dataset_impl.h"

namespace atrous::detail {

std::unique_ptr<SegmentationDataset> open_camvid(const DatasetSpec& spec) {
  constexpr int kClasses = 11, kVoid = 11;
  require_directory(spec.root, "camvid dataset");
  const std::string list = join_path(spec.root, spec.split + ".txt");
  std::vector<SampleFiles> files;
  for (const ListLine& line : read_list_file(list, "camvid dataset")) {
    ATROUS_CHECK(line.fields.size() == 2, "camvid list '", list, "' line ", line.number,
                 ": expected 'IMAGE LABEL', got ", line.fields.size(), " field", line.fields.size() == 1 ? "" : "s");
    SampleFiles f{join_path(spec.root, line.fields[0]), join_path(spec.root, line.fields[1]),
                  file_stem(line.fields[0])};
    const std::string where = "'" + list + "' line " + std::to_string(line.number);
    require_file(f.image, where);
    require_file(f.label, where);
    files.push_back(std::move(f));
  }
  apply_limit(files, spec.limit, "camvid list '" + list + "'");
  FileDatasetInfo info{
      "camvid", spec.root, spec.split, kClasses, kVoid, "camvid", identity_label_table(kClasses, kVoid)};
  return std::make_unique<FileDataset>(std::move(info), std::move(files));
}

}  // namespace atrous::detail
