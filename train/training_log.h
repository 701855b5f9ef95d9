// A training run's history as two files side by side: CSV (spreadsheets, plotting scripts) and JSON lines (one
// object per row, for tools that stream). A resumed run keeps the rows up to its checkpoint and drops later ones,
// which will be trained again, so the files always describe one consistent run.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace atrous {

struct LogRow {
  int64_t iteration = 0;  // optimizer steps done
  int64_t epoch = 0;
  double loss = 0;  // mean training loss since the previous row
  double lr = 0;
  double images_per_second = 0;  // training throughput since the previous row
  double val_miou = -1;          // < 0: no validation at this row
  double elapsed_seconds = 0;    // training wall time since the run's first iteration, across resumes
};

class TrainingLog {
 public:
  // Writes <dir>/train_log.csv and <dir>/train_log.jsonl. keep_until < 0: a fresh run (files replaced); otherwise
  // the CSV's rows with iteration <= keep_until are kept (both files rewritten from them).
  TrainingLog(const std::string& dir, int64_t keep_until = -1);

  void append(const LogRow& row);  // written and flushed at once (a killed run keeps its history)
  const std::vector<LogRow>& rows() const { return rows_; }
  std::string csv_path() const { return csv_path_; }
  std::string jsonl_path() const { return jsonl_path_; }

 private:
  void write(const LogRow& row);

  std::string csv_path_, jsonl_path_;
  std::ofstream csv_, jsonl_;
  std::vector<LogRow> rows_;
};

// Rows of a CSV written by TrainingLog; a malformed line is an error naming the file and line.
std::vector<LogRow> read_training_log_csv(const std::string& path);

// The loss (top panel) and validation mIoU (bottom panel, in %) against the iteration, as a PNG (plot/plot.h).
void write_training_curves(const std::string& png_path, const std::vector<LogRow>& rows, const std::string& title);

}  // namespace atrous
