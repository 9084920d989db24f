#include "runtime/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace graphc {

bool Progress::on_terminal() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string what, int64_t total)
    : what_(std::move(what)), total_(total), tty_(on_terminal()), start_(std::chrono::steady_clock::now()) {
  last_draw_ = start_;
  if (!tty_) fmt::print(stderr, "{} ...\n", what_);
  else update(0);
}

// Not finished: the work failed or was abandoned; its error says why, so
// only a bar in progress is cleared.
Progress::~Progress() {
  if (!finished_ && tty_) {
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

void Progress::update(int64_t done, const std::string& detail) {
  done_ = done;
  if (!tty_) return;  // plain output: only the start and end lines
  const auto now = std::chrono::steady_clock::now();
  // Redrawing more than ~20 times a second only costs time.
  if (done != 0 && done != total_ && now - last_draw_ < std::chrono::milliseconds(50)) return;
  last_draw_ = now;
  std::string bar;
  if (total_ > 0) {
    const int width = 30;
    const int filled = static_cast<int>(width * std::min<int64_t>(done, total_) / total_);
    bar = fmt::format(" [{}{}] {}/{}", std::string(filled, '#'), std::string(width - filled, '.'), done, total_);
  } else {
    bar = fmt::format(" {}", done);
  }
  fmt::print(stderr, "\r\033[K{}{}{}", what_, bar, detail.empty() ? "" : "  " + detail);
  std::fflush(stderr);
}

void Progress::finish(const std::string& summary) {
  if (finished_) return;
  finished_ = true;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string tail = summary.empty() ? "" : ": " + summary;
  if (tty_) fmt::print(stderr, "\r\033[K{} done in {:.2f} s{}\n", what_, s, tail);
  else fmt::print(stderr, "{} done in {:.2f} s{}\n", what_, s, tail);
  std::fflush(stderr);
}

}  // namespace graphc
