// Training progress on stderr: a one-line bar redrawn in place on a terminal (iteration, loss, lr, images/s, ETA),
// or a plain line every N iterations when stderr is a file or a pipe (CI logs, nohup), so logs stay readable.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace atrous {

struct ProgressState {
  int64_t iteration = 0;  // steps done
  int64_t total = 0;
  double loss = 0;
  double lr = 0;
  double images_per_second = 0;
  double eta_seconds = -1;  // < 0: unknown yet
};

class ProgressBar {
 public:
  // interactive: redraw one line with '\r' (a terminal); otherwise print a line every `plain_every` iterations
  // and at the last one.
  ProgressBar(std::FILE* out, bool interactive, int64_t plain_every);
  static bool stderr_is_terminal();

  void update(const ProgressState& state);
  // A line of its own (validation results, checkpoint notices) that does not garble the bar.
  void message(const std::string& line);
  // Ends the bar's line (interactive).
  void finish();

  // "[#######-------]  120/2000  loss 0.5321  lr 1.20e-03  5.3 img/s  ETA 3m12s"
  static std::string format(const ProgressState& state, bool with_bar);
  // "42s", "3m05s", "1h02m", "?" for a negative duration.
  static std::string format_duration(double seconds);

 private:
  std::FILE* out_;
  bool interactive_;
  int64_t plain_every_;
  bool line_open_ = false;
  double last_draw_ = -1;
};

}  // namespace atrous
