#include "train/training_log.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "plot/plot.h"

namespace atrous {
namespace {

constexpr const char* kHeader = "iteration,epoch,loss,lr,images_per_second,val_miou,elapsed_seconds";

std::string number(double v) {
  char text[40];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

}  // namespace

std::vector<LogRow> read_training_log_csv(const std::string& path) {
  std::ifstream in(path);
  ATROUS_CHECK(in.good(), "training log: cannot read ", path);
  std::vector<LogRow> rows;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line_number == 1) {
      ATROUS_CHECK(line == kHeader, "training log ", path, ": unexpected header '", line, "' (expected '", kHeader,
                   "')");
      continue;
    }
    if (line.empty()) continue;
    LogRow r;
    std::string val;
    char c1, c2, c3, c4, c5, c6;
    std::istringstream fields(line);
    long long iteration = 0, epoch = 0;
    fields >> iteration >> c1 >> epoch >> c2 >> r.loss >> c3 >> r.lr >> c4 >> r.images_per_second >> c5;
    // An empty val_miou field means "no validation at this row".
    if (fields.peek() == ',') {
      r.val_miou = -1;
    } else {
      fields >> r.val_miou;
    }
    fields >> c6 >> r.elapsed_seconds;
    ATROUS_CHECK(!fields.fail() && c1 == ',' && c2 == ',' && c3 == ',' && c4 == ',' && c5 == ',' && c6 == ',',
                 "training log ", path, ": malformed line ", line_number, ": '", line, "'");
    r.iteration = iteration;
    r.epoch = epoch;
    rows.push_back(r);
  }
  return rows;
}

TrainingLog::TrainingLog(const std::string& dir, int64_t keep_until)
    : csv_path_(dir + "/train_log.csv"), jsonl_path_(dir + "/train_log.jsonl") {
  std::filesystem::create_directories(dir);
  std::vector<LogRow> kept;
  if (keep_until >= 0 && std::filesystem::exists(csv_path_)) {
    for (const LogRow& r : read_training_log_csv(csv_path_))
      if (r.iteration <= keep_until) kept.push_back(r);
  }
  csv_.open(csv_path_, std::ios::trunc);
  jsonl_.open(jsonl_path_, std::ios::trunc);
  ATROUS_CHECK(csv_.good() && jsonl_.good(), "training log: cannot write ", csv_path_, " or ", jsonl_path_);
  csv_ << kHeader << "\n";
  for (const LogRow& r : kept) append(r);
  csv_.flush();
}

void TrainingLog::write(const LogRow& r) {
  const std::string val = r.val_miou >= 0 ? number(r.val_miou) : "";
  csv_ << r.iteration << ',' << r.epoch << ',' << number(r.loss) << ',' << number(r.lr) << ','
       << number(r.images_per_second) << ',' << val << ',' << number(r.elapsed_seconds) << "\n";
  jsonl_ << "{\"iteration\": " << r.iteration << ", \"epoch\": " << r.epoch << ", \"loss\": " << number(r.loss)
         << ", \"lr\": " << number(r.lr) << ", \"images_per_second\": " << number(r.images_per_second)
         << ", \"val_miou\": " << (val.empty() ? "null" : val) << ", \"elapsed_seconds\": " << number(r.elapsed_seconds)
         << "}\n";
  csv_.flush();
  jsonl_.flush();
  ATROUS_CHECK(csv_.good() && jsonl_.good(), "training log: writing ", csv_path_, " failed (disk full?)");
}

void write_training_curves(const std::string& png_path, const std::vector<LogRow>& rows, const std::string& title) {
  PlotSeries loss{"training loss (mean since the previous row)", {}, {}, 0};
  PlotSeries miou{"validation mIoU (%)", {}, {}, 1};
  for (const LogRow& r : rows) {
    loss.x.push_back(static_cast<double>(r.iteration));
    loss.y.push_back(r.loss);
    if (r.val_miou >= 0) {
      miou.x.push_back(static_cast<double>(r.iteration));
      miou.y.push_back(100 * r.val_miou);
    }
  }
  PlotOptions options;
  options.title = title;
  options.bottom_label = "validation mIoU (%)";
  write_training_plot(png_path, {loss, miou}, options);
}

void TrainingLog::append(const LogRow& row) {
  rows_.push_back(row);
  write(row);
}

}  // namespace atrous
