#include "passes/ir_diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace graphc {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  return lines;
}

// One line of the edit script: kept (' '), removed from a ('-'), added from b ('+').
struct Edit {
  char kind;
  int a;  // index into a (for ' ' and '-')
  int b;  // index into b (for ' ' and '+')
};

// Above this many cells the middle is shown as removed then added, rather
// than spending more than ~50 MB on the table.
constexpr int64_t kMaxCells = int64_t{400} << 20;

// The edit script turning a[lo_a, hi_a) into b[lo_b, hi_b) with the fewest
// changes: suffix LCS lengths row by row, keeping one bit per cell for the
// direction, then a walk from the front.
void diff_middle(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b, int lo_a, int hi_a,
                 int lo_b, int hi_b, std::vector<Edit>& out) {
  const int n = hi_a - lo_a, m = hi_b - lo_b;
  if (static_cast<int64_t>(n) * m > kMaxCells) {
    for (int i = lo_a; i < hi_a; ++i) out.push_back({'-', i, lo_b});
    for (int j = lo_b; j < hi_b; ++j) out.push_back({'+', hi_a, j});
    return;
  }
  // down[i*m + j]: dropping a[i] keeps at least as long a common tail as dropping b[j].
  std::vector<bool> down(static_cast<size_t>(n) * m);
  std::vector<int> next(m + 1, 0), row(m + 1, 0);
  for (int i = n - 1; i >= 0; --i) {
    row[m] = 0;
    for (int j = m - 1; j >= 0; --j) {
      if (a[lo_a + i] == b[lo_b + j]) {
        row[j] = next[j + 1] + 1;
      } else {
        const bool d = next[j] >= row[j + 1];
        down[static_cast<size_t>(i) * m + j] = d;
        row[j] = d ? next[j] : row[j + 1];
      }
    }
    std::swap(row, next);
  }
  int i = 0, j = 0;
  while (i < n && j < m) {
    if (a[lo_a + i] == b[lo_b + j]) {
      out.push_back({' ', lo_a + i++, lo_b + j++});
    } else if (down[static_cast<size_t>(i) * m + j]) {
      out.push_back({'-', lo_a + i++, lo_b + j});
    } else {
      out.push_back({'+', lo_a + i, lo_b + j++});
    }
  }
  for (; i < n; ++i) out.push_back({'-', lo_a + i, lo_b + j});
  for (; j < m; ++j) out.push_back({'+', lo_a + i, lo_b + j});
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, std::string_view before_name,
                         std::string_view after_name, int context) {
  const std::vector<std::string_view> a = split_lines(before), b = split_lines(after);
  int head = 0;
  while (head < static_cast<int>(std::min(a.size(), b.size())) && a[head] == b[head]) ++head;
  int tail = 0;
  while (tail < static_cast<int>(std::min(a.size(), b.size())) - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail])
    ++tail;
  std::vector<Edit> edits;
  for (int k = 0; k < head; ++k) edits.push_back({' ', k, k});
  diff_middle(a, b, head, static_cast<int>(a.size()) - tail, head, static_cast<int>(b.size()) - tail, edits);
  for (int k = tail; k > 0; --k)
    edits.push_back({' ', static_cast<int>(a.size()) - k, static_cast<int>(b.size()) - k});

  std::string out;
  const int total = static_cast<int>(edits.size());
  int e = 0;
  while (true) {
    while (e < total && edits[e].kind == ' ') ++e;
    if (e == total) break;
    // A hunk: from `context` lines before this change to `context` lines
    // after the last change that is no more than 2 * context lines from the next.
    const int start = std::max(0, e - context);
    int end = e;  // one past the last change of the hunk
    for (int k = e; k < total; ++k) {
      if (edits[k].kind != ' ') end = k + 1;
      else if (k - end >= 2 * context) break;
    }
    const int stop = std::min(total, end + context);
    int a_len = 0, b_len = 0;
    for (int k = start; k < stop; ++k) {
      a_len += edits[k].kind != '+';
      b_len += edits[k].kind != '-';
    }
    const int a_at = edits[start].a, b_at = edits[start].b;  // lines before the hunk
    if (out.empty()) out = fmt::format("--- {}\n+++ {}\n", before_name, after_name);
    out += fmt::format("@@ -{},{} +{},{} @@\n", a_len ? a_at + 1 : a_at, a_len, b_len ? b_at + 1 : b_at, b_len);
    for (int k = start; k < stop; ++k) {
      const Edit& d = edits[k];
      out += d.kind;
      out += d.kind == '+' ? b[d.b] : a[d.a];
      out += '\n';
    }
    e = stop;
  }
  return out;
}

}  // namespace graphc
