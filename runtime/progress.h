// Progress of long work (loading, compiling, generating, training) on stderr:
// a bar redrawn in place on a terminal, plain lines when stderr is a file or
// a pipe (so logs stay readable).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace graphc {

class Progress {
 public:
  // `total` 0: unknown (no bar, a count). Prints the start line at once.
  Progress(std::string what, int64_t total = 0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Sets how much is done; `detail` is shown after the bar (e.g. "layer 3").
  void update(int64_t done, const std::string& detail = {});
  // Ends with a line saying how long it took, plus `summary`. Without it
  // (an error ended the work) nothing more is printed.
  void finish(const std::string& summary = {});

  static bool on_terminal();

 private:
  std::string what_;
  int64_t total_;
  int64_t done_ = 0;
  bool finished_ = false;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace graphc
