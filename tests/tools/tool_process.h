// Runs a graphc tool as a process, as a user would, and captures what it
// printed and its exit code.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace graphc::test_support {

struct ProcessResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// `command` runs under /bin/sh from the source directory; stderr is captured
// through a temporary file.
inline ProcessResult run_tool_process(const std::string& command) {
  char err_path[] = "/tmp/graphc-tool-stderr-XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd >= 0) close(fd);
  const std::string full = "cd '" GRAPHC_SOURCE_DIR "' && " + command + " 2>" + err_path;
  ProcessResult r;
  FILE* p = popen(full.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* e = fopen(err_path, "r")) {
    for (size_t n; (n = fread(buf.data(), 1, buf.size(), e)) > 0;) r.err.append(buf.data(), n);
    fclose(e);
  }
  std::remove(err_path);
  return r;
}

inline std::string tool(const std::string& name) { return std::string(GRAPHC_BIN_DIR) + "/" + name; }

// The last line of `text` (without its newline).
inline std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace graphc::test_support
