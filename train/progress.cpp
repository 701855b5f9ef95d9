#include "train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace atrous {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

ProgressBar::ProgressBar(std::FILE* out, bool interactive, int64_t plain_every)
    : out_(out), interactive_(interactive), plain_every_(std::max<int64_t>(1, plain_every)) {}

bool ProgressBar::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

std::string ProgressBar::format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char text[32];
  if (s < 60) {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  }
  return text;
}

std::string ProgressBar::format(const ProgressState& st, bool with_bar) {
  std::string line;
  if (with_bar) {
    constexpr int kWidth = 24;
    const double done = st.total > 0 ? std::clamp(static_cast<double>(st.iteration) / st.total, 0.0, 1.0) : 0.0;
    const int filled = static_cast<int>(done * kWidth);
    line = "[" + std::string(filled, '#') + std::string(kWidth - filled, '-') + "] ";
  }
  char text[160];
  std::snprintf(text, sizeof text, "%lld/%lld  loss %.4f  lr %.2e  %.1f img/s  ETA %s",
                static_cast<long long>(st.iteration), static_cast<long long>(st.total), st.loss, st.lr,
                st.images_per_second, format_duration(st.eta_seconds).c_str());
  return line + text;
}

void ProgressBar::update(const ProgressState& state) {
  if (interactive_) {
    // Redrawing costs little, but a terminal flooded with redraws lags: at most ~10 per second, plus the last one.
    const double now = now_seconds();
    if (state.iteration < state.total && last_draw_ >= 0 && now - last_draw_ < 0.1) return;
    last_draw_ = now;
    std::fprintf(out_, "\r%s\033[K", format(state, true).c_str());
    line_open_ = true;
  } else if (state.iteration % plain_every_ == 0 || state.iteration == state.total) {
    std::fprintf(out_, "iteration %s\n", format(state, false).c_str());
  }
  std::fflush(out_);
}

void ProgressBar::message(const std::string& line) {
  if (line_open_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s\n", line.c_str());
  line_open_ = false;
  last_draw_ = -1;  // redraw the bar at the next update
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (line_open_) std::fprintf(out_, "\n");
  line_open_ = false;
  std::fflush(out_);
}

}  // namespace atrous
