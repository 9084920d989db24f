// Byte counts as people read them: "512 B", "1.5 KiB", "235.0 MiB".
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace graphc {

inline std::string human_bytes(int64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  for (; v >= 1024 && unit < 3; ++unit) v /= 1024;
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[unit]);
}

}  // namespace graphc
