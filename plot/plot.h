// Training curves as a PNG a person can read: two panels sharing the iteration axis, the training loss on top and
// the validation mIoU below, each with a grid, tick labels and a legend, drawn with our own raster and bitmap font.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "plot/raster.h"

namespace atrous {

struct PlotSeries {
  std::string name;       // legend entry, e.g. "loss", "loss (mean of 20)", "val mIoU"
  std::vector<double> x;  // iterations
  std::vector<double> y;  // same length as x; NaN/inf values leave a gap in the line
  int panel = 0;          // 0: top (loss), 1: bottom (validation mIoU)
};

struct PlotOptions {
  std::string title = "training curves";
  std::string top_label = "training loss";
  std::string bottom_label = "validation mIoU";
  std::string x_label = "iteration";
  int width = 1000;
  int height = 760;
};

// Draws both panels and writes the PNG atomically. A panel without data says so. Mismatched x/y lengths, a panel
// other than 0/1 or a size below 320x240 are an atrous::Error naming the series or setting.
void write_training_plot(const std::string& png_path, const std::vector<PlotSeries>& series,
                         const PlotOptions& options = {});
// The same picture as u8 [height, width, 3].
Tensor render_training_plot(const std::vector<PlotSeries>& series, const PlotOptions& options = {});

// The colour of the i-th series of a panel (the legend's order).
Rgb series_colour(int index);
// About `target` evenly spaced round values (steps of 1, 2 or 5 x 10^k) whose range covers [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target);
// A tick value with as many decimals as its step needs ("0.25", "20000", "1e-05" for very small steps).
std::string format_tick(double value, double step);

}  // namespace atrous
