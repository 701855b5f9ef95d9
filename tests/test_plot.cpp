// Training-curve plots: tick choice and labels, the bitmap font, where series land, the written PNG, bad input.
// The picture itself was checked by eye; tests pin what can be checked by machine.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "core/error.h"
#include "data/image_io.h"
#include "plot/bitmap_font.h"
#include "plot/plot.h"
#include "plot/raster.h"
#include "support/test_helpers.h"

using namespace atrous;
using atrous::testing::expect_error;

namespace {

// Rows of the picture holding at least one pixel of `colour`.
std::set<int> rows_with(const Tensor& image, Rgb colour) {
  std::set<int> rows;
  const uint8_t* p = image.data<uint8_t>();
  for (int64_t y = 0; y < image.size(0); ++y)
    for (int64_t x = 0; x < image.size(1); ++x) {
      const uint8_t* q = p + (y * image.size(1) + x) * 3;
      if (q[0] == colour[0] && q[1] == colour[1] && q[2] == colour[2]) rows.insert(static_cast<int>(y));
    }
  return rows;
}

PlotSeries series(const std::string& name, int panel, std::vector<double> x, std::vector<double> y) {
  PlotSeries s;
  s.name = name;
  s.panel = panel;
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}

std::vector<PlotSeries> typical_run() {
  std::vector<PlotSeries> out;
  PlotSeries loss = series("loss", 0, {}, {});
  for (int i = 0; i <= 2000; i += 10) {
    loss.x.push_back(i);
    loss.y.push_back(2.5 * std::exp(-i / 600.0) + 0.3 + 0.08 * std::sin(i * 0.37));
  }
  out.push_back(loss);
  out.push_back(series("val mIoU", 1, {250, 500, 750, 1000, 1250, 1500, 1750, 2000},
                       {0.21, 0.38, 0.47, 0.55, 0.58, 0.61, 0.62, 0.635}));
  out.push_back(series("val pixel acc", 1, {250, 500, 750, 1000, 1250, 1500, 1750, 2000},
                       {0.55, 0.68, 0.74, 0.79, 0.81, 0.83, 0.84, 0.845}));
  return out;
}

}  // namespace

TEST(Plot, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 0.97, 5).size(), 6u);
  const auto t = nice_ticks(0, 0.97, 5);
  EXPECT_DOUBLE_EQ(t.front(), 0.0);
  EXPECT_NEAR(t[1], 0.2, 1e-12);
  EXPECT_NEAR(t.back(), 1.0, 1e-12);
  EXPECT_EQ(nice_ticks(0, 20000, 5), (std::vector<double>{0, 5000, 10000, 15000, 20000}));
  EXPECT_EQ(nice_ticks(3, 48, 6), (std::vector<double>{0, 10, 20, 30, 40, 50}));
  const auto flat = nice_ticks(2.0, 2.0, 5);  // a constant series still gets a range around its value
  EXPECT_LT(flat.front(), 2.0);
  EXPECT_GT(flat.back(), 2.0);
  const auto negative = nice_ticks(-0.3, 0.3, 5);
  EXPECT_LE(negative.front(), -0.3);
  EXPECT_GE(negative.back(), 0.3);
  EXPECT_EQ(std::count(negative.begin(), negative.end(), 0.0), 1);  // exactly zero, not 1e-17
  expect_error([] { nice_ticks(1, 0, 5); }, {"nice_ticks"});
  expect_error([] { nice_ticks(0, NAN, 5); }, {"nice_ticks"});
}

TEST(Plot, TickLabels) {
  EXPECT_EQ(format_tick(0.2, 0.2), "0.2");
  EXPECT_EQ(format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(format_tick(20000, 5000), "20000");
  EXPECT_EQ(format_tick(1.5, 0.5), "1.5");
  EXPECT_EQ(format_tick(-1e-17, 0.1), "0.0");
  EXPECT_EQ(format_tick(3e-8, 1e-8), "3e-08");
}

TEST(Plot, FontCoversPrintableAsciiWithDistinctGlyphs) {
  std::set<std::array<uint8_t, kGlyphHeight>> seen;
  for (char c = 32; c < 127; ++c) {
    ASSERT_TRUE(has_glyph(c));
    const auto& g = glyph_rows(c);
    EXPECT_TRUE(seen.insert(g).second) << "glyph '" << c << "' repeats an earlier one";
    if (c != ' ') {
      EXPECT_NE(g, glyph_rows(' ')) << c;
    }
  }
  EXPECT_FALSE(has_glyph('\n'));
  EXPECT_EQ(glyph_rows('\t'), glyph_rows('?'));
  EXPECT_EQ(text_width("abc", 2), (3 * 6 - 1) * 2);
  EXPECT_EQ(text_width(""), 0);
}

TEST(Plot, RasterDrawsGlyphsAndLines) {
  Raster r(20, 10, {255, 255, 255});
  r.text(1, 1, "1", {0, 0, 0}, 1);
  // '1' is "..#.." on its first row, ".##.." on its second.
  EXPECT_EQ(r.at(3, 1), (Rgb{0, 0, 0}));
  EXPECT_EQ(r.at(2, 1), (Rgb{255, 255, 255}));
  EXPECT_EQ(r.at(2, 2), (Rgb{0, 0, 0}));
  r.line(0, 9, 19, 9, {255, 0, 0});
  for (int x = 0; x < 20; ++x) EXPECT_EQ(r.at(x, 9), (Rgb{255, 0, 0}));
  r.line(10, 0, 19, 9, {0, 255, 0});  // a diagonal hits one pixel per column
  for (int k = 0; k < 10; ++k) EXPECT_EQ(r.at(10 + k, k), (Rgb{0, 255, 0}));
  r.line(-50, -50, 100, 100, {0, 0, 255}, 3);  // clipped, no crash
  expect_error([&] { r.at(20, 0); }, {"Raster::at", "(20, 0)"});
}

TEST(Plot, SeriesLandInTheirPanels) {
  const Tensor image = render_training_plot(typical_run());
  EXPECT_EQ(image.shape(), (Shape{760, 1000, 3}));
  const std::set<int> loss = rows_with(image, series_colour(0));
  const std::set<int> second = rows_with(image, series_colour(1));
  ASSERT_FALSE(loss.empty());
  ASSERT_FALSE(second.empty());
  // Loss (first series of the top panel) only in the top half; the bottom panel's second series only below.
  // The bottom panel's first series shares colour 0 and sits in the bottom half as well.
  EXPECT_LT(*rows_with(render_training_plot({typical_run()[0]}), series_colour(0)).rbegin(), 380);
  EXPECT_GT(*second.begin(), 380);
  // The loss curve falls: its first point is drawn higher (a smaller row) than its last.
  PlotSeries falling = series("loss", 0, {0, 100}, {2.0, 0.5});
  const std::set<int> rows = rows_with(render_training_plot({falling}), series_colour(0));
  EXPECT_GT(*rows.rbegin() - *rows.begin(), 150);  // spans most of the panel height
}

TEST(Plot, EmptyPanelsAndGapsAreFine) {
  EXPECT_NO_THROW(render_training_plot({}));
  EXPECT_NO_THROW(render_training_plot({series("loss", 0, {0, 1, 2, 3}, {1.0, NAN, INFINITY, 0.5})}));
  EXPECT_NO_THROW(render_training_plot({series("val", 1, {100}, {0.5})}));  // one point: a marker
  EXPECT_FALSE(rows_with(render_training_plot({series("val", 1, {100}, {0.5})}), series_colour(0)).empty());
}

class PlotFiles : public atrous::testing::ScratchDirTest {};

TEST_F(PlotFiles, WritesAReadablePng) {
  PlotOptions options;
  options.width = 800;
  options.height = 600;
  options.title = "tiny-deeplab on synthetic";
  const std::string png = path("curves.png");
  write_training_plot(png, typical_run(), options);
  const Tensor back = read_image_rgb(png);
  EXPECT_EQ(back.shape(), (Shape{600, 800, 3}));
  EXPECT_TRUE(atrous::testing::bitwise_equal(back, render_training_plot(typical_run(), options)));
  // For looking at it: ATROUS_KEEP_PLOT=some/file.png
  if (const char* keep = std::getenv("ATROUS_KEEP_PLOT")) write_training_plot(keep, typical_run());
}

TEST(Plot, BadInputIsAnError) {
  expect_error(
      [] {
        render_training_plot({series("loss", 0, {0, 1}, {1.0})});
      },
      {"series 'loss'", "2 x values", "1 y values"});
  expect_error([] { render_training_plot({series("acc", 2, {0}, {1.0})}); }, {"series 'acc'", "panel 2"});
  PlotOptions tiny;
  tiny.width = 100;
  expect_error([&] { render_training_plot({}, tiny); }, {"size", "100x760"});
  expect_error([] { write_training_plot("", {}); }, {"empty output path"});
  expect_error([] { write_training_plot("/nonexistent-dir/x/plot.png", {}); }, {"/nonexistent-dir/x/plot.png"});
}
