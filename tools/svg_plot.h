// Line charts as SVG text, for results people would rather look at than read
// (loss curves): a few series of (x, y) points on shared axes with ticks, a
// title and a legend. No dependencies; any browser shows the file.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace graphc::tools {

struct PlotSeries {
  std::string name;
  std::string color;  // any SVG colour
  std::vector<std::pair<double, double>> points;
  bool markers = false;  // a dot at every point (sparse series, e.g. evaluations)
};

std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<PlotSeries>& series);

}  // namespace graphc::tools
