#include "plot/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "data/image_io.h"
#include "plot/bitmap_font.h"

namespace atrous {

namespace {

constexpr Rgb kWhite{255, 255, 255}, kInk{30, 30, 30}, kGrid{225, 225, 225}, kFrame{90, 90, 90};
constexpr int kTickScale = 2, kTitleScale = 3, kLabelScale = 2;

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void include(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// The rectangle data is drawn into, and the mapping from data to pixels.
struct Axes {
  int left, top, right, bottom;  // pixels; right/bottom exclusive
  double x0, x1, y0, y1;         // data range shown
  int px(double x) const { return left + static_cast<int>(std::lround((x - x0) / (x1 - x0) * (right - 1 - left))); }
  int py(double y) const {
    return bottom - 1 - static_cast<int>(std::lround((y - y0) / (y1 - y0) * (bottom - 1 - top)));
  }
};

double nice_step(double span, int target) {
  const double raw = span / std::max(1, target - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  // Nearest of 1, 2, 5, 10 (not the next larger), so the tick count stays close to the target.
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
}

void draw_panel(Raster& r, const Axes& a, const std::vector<double>& xticks, const std::vector<double>& yticks,
                const std::vector<const PlotSeries*>& series, const std::string& label) {
  const double xstep = xticks.size() > 1 ? xticks[1] - xticks[0] : 1,
               ystep = yticks.size() > 1 ? yticks[1] - yticks[0] : 1;
  r.text(a.left, a.top - text_height(kLabelScale) - 8, label, kInk, kLabelScale);
  for (double t : xticks) {
    const int x = a.px(t);
    r.fill_rect(x, a.top, x + 1, a.bottom, kGrid);
    r.fill_rect(x, a.bottom, x + 1, a.bottom + 5, kFrame);
    const std::string s = format_tick(t, xstep);
    r.text(x - text_width(s, kTickScale) / 2, a.bottom + 9, s, kInk, kTickScale);
  }
  for (double t : yticks) {
    const int y = a.py(t);
    r.fill_rect(a.left, y, a.right, y + 1, kGrid);
    r.fill_rect(a.left - 5, y, a.left, y + 1, kFrame);
    const std::string s = format_tick(t, ystep);
    r.text(a.left - 9 - text_width(s, kTickScale), y - text_height(kTickScale) / 2, s, kInk, kTickScale);
  }
  r.rect_outline(a.left - 1, a.top - 1, a.right + 1, a.bottom + 1, kFrame);
  if (series.empty()) {
    const std::string s = "no data";
    r.text((a.left + a.right - text_width(s, kLabelScale)) / 2, (a.top + a.bottom) / 2, s, kFrame, kLabelScale);
    return;
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const PlotSeries& s = *series[i];
    const Rgb colour = series_colour(static_cast<int>(i));
    // Sparse series (validation every N iterations) get a marker on every point, so single points show too.
    const bool markers = s.x.size() <= 60;
    bool have_previous = false;
    int px = 0, py = 0;
    for (size_t k = 0; k < s.x.size(); ++k) {
      if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) {
        have_previous = false;
        continue;
      }
      const int x = a.px(s.x[k]), y = a.py(s.y[k]);
      if (have_previous) r.line(px, py, x, y, colour, 2);
      if (markers) r.fill_rect(x - 3, y - 3, x + 4, y + 4, colour);
      px = x, py = y, have_previous = true;
    }
  }
  // Legend: a white box with a colour swatch per series, in the corner the curves cross least (loss curves fall
  // away from the top right, mIoU curves rise away from the bottom right).
  int widest = 0;
  for (const PlotSeries* s : series) widest = std::max(widest, text_width(s->name, kLabelScale));
  const int line_h = text_height(kLabelScale) + 6;
  const int box_w = widest + 54, box_h = line_h * static_cast<int>(series.size()) + 10;
  const int corners[4][2] = {{a.right - box_w - 10, a.top + 10},
                             {a.right - box_w - 10, a.bottom - box_h - 10},
                             {a.left + 10, a.top + 10},
                             {a.left + 10, a.bottom - box_h - 10}};
  int bx = corners[0][0], by = corners[0][1];
  int64_t fewest = std::numeric_limits<int64_t>::max();
  for (const auto& corner : corners) {
    int64_t hits = 0;
    for (const PlotSeries* s : series)
      for (size_t k = 0; k < s->x.size(); ++k) {
        if (!std::isfinite(s->x[k]) || !std::isfinite(s->y[k])) continue;
        const bool segment = k + 1 < s->x.size() && std::isfinite(s->x[k + 1]) && std::isfinite(s->y[k + 1]);
        for (int t = 0; t < (segment ? 16 : 1); ++t) {  // sample along the segment to the next point
          const double f = t / 16.0;
          const int x = a.px(segment ? s->x[k] + f * (s->x[k + 1] - s->x[k]) : s->x[k]);
          const int y = a.py(segment ? s->y[k] + f * (s->y[k + 1] - s->y[k]) : s->y[k]);
          hits += x >= corner[0] - 4 && x < corner[0] + box_w + 4 && y >= corner[1] - 4 && y < corner[1] + box_h + 4;
        }
      }
    if (hits < fewest) {
      fewest = hits;
      bx = corner[0];
      by = corner[1];
    }
  }
  r.fill_rect(bx, by, bx + box_w, by + box_h, kWhite);
  r.rect_outline(bx, by, bx + box_w, by + box_h, kFrame);
  for (size_t i = 0; i < series.size(); ++i) {
    const int y = by + 6 + static_cast<int>(i) * line_h;
    const Rgb colour = series_colour(static_cast<int>(i));
    const int mid = y + 7 * kLabelScale / 2;  // middle of the capitals, above the descenders
    r.fill_rect(bx + 8, mid - 2, bx + 38, mid + 2, colour);
    r.text(bx + 46, y, series[i]->name, kInk, kLabelScale);
  }
}

}  // namespace

Rgb series_colour(int index) {
  static const Rgb colours[] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127}};
  return colours[((index % 8) + 8) % 8];
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  ATROUS_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi && target >= 2,
               "nice_ticks: need finite lo <= hi and target >= 2, got ", lo, ", ", hi, ", ", target);
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(lo))) {  // a flat series still gets an axis around its value
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo, target);
  const double first = std::floor(lo / step + 1e-9) * step, last = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  for (int64_t i = 0; first + i * step <= last + step * 1e-9; ++i) {
    const double t = first + i * step;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

std::string format_tick(double value, double step) {
  ATROUS_CHECK(step > 0 && std::isfinite(step), "format_tick: step must be positive, got ", step);
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  char buffer[64];
  if (std::abs(value) < step * 1e-9) value = 0.0;  // never print "-0"
  if (decimals > 6 || std::abs(value) >= 1e9)
    std::snprintf(buffer, sizeof(buffer), "%.3g", value);
  else
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

Tensor render_training_plot(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  ATROUS_CHECK(options.width >= 320 && options.height >= 240 && options.width <= 8192 && options.height <= 8192,
               "write_training_plot: size must be within 320x240..8192x8192, got ", options.width, "x", options.height);
  std::vector<const PlotSeries*> panels[2];
  Range xr, yr[2];
  for (const PlotSeries& s : series) {
    ATROUS_CHECK(s.x.size() == s.y.size(), "write_training_plot: series '", s.name, "' has ", s.x.size(),
                 " x values but ", s.y.size(), " y values");
    ATROUS_CHECK(s.panel == 0 || s.panel == 1, "write_training_plot: series '", s.name, "' has panel ", s.panel,
                 " (0: loss, 1: validation mIoU)");
    panels[s.panel].push_back(&s);
    for (size_t k = 0; k < s.x.size(); ++k)
      if (std::isfinite(s.x[k]) && std::isfinite(s.y[k])) {
        xr.include(s.x[k]);
        yr[s.panel].include(s.y[k]);
      }
  }
  // Both panels share the iteration axis, so curves line up vertically.
  const std::vector<double> xticks = xr.empty() ? nice_ticks(0, 1, 6) : nice_ticks(xr.lo, xr.hi, 6);

  Raster r(options.width, options.height, kWhite);
  const int title_h = text_height(kTitleScale);
  r.text((options.width - text_width(options.title, kTitleScale)) / 2, 14, options.title, kInk, kTitleScale);
  const int left = 110, right = options.width - 30;
  const int top0 = 14 + title_h + 40;
  const int x_label_h = text_height(kLabelScale) + 14, tick_h = text_height(kTickScale) + 16;
  const int gap = tick_h + text_height(kLabelScale) + 24;
  const int panel_h = (options.height - top0 - gap - tick_h - x_label_h - 10) / 2;
  const std::string labels[2] = {options.top_label, options.bottom_label};
  for (int p = 0; p < 2; ++p) {
    const std::vector<double> yticks = yr[p].empty() ? nice_ticks(0, 1, 5) : nice_ticks(yr[p].lo, yr[p].hi, 5);
    Axes a;
    a.left = left;
    a.right = right;
    a.top = top0 + p * (panel_h + gap);
    a.bottom = a.top + panel_h;
    a.x0 = xticks.front();
    a.x1 = xticks.back();
    a.y0 = yticks.front();
    a.y1 = yticks.back();
    draw_panel(r, a, xticks, yticks, panels[p], labels[p]);
    if (p == 1)
      r.text((left + right - text_width(options.x_label, kLabelScale)) / 2, a.bottom + tick_h + 4, options.x_label,
             kInk, kLabelScale);
  }
  return r.to_tensor();
}

void write_training_plot(const std::string& png_path, const std::vector<PlotSeries>& series,
                         const PlotOptions& options) {
  ATROUS_CHECK(!png_path.empty(), "write_training_plot: empty output path");
  write_png(png_path, render_training_plot(series, options));
}

}  // namespace atrous
