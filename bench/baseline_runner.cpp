// Subprocess plumbing for the PyTorch baseline (see baseline_runner.h).
//
// posix_spawnp rather than popen: the arguments go to the interpreter as they
// are, with no shell quoting to get wrong. stdout comes back through a pipe
// (the script prints one JSON line there); stderr goes to a temporary file so
// that a failure can be reported by the script's last error line.
#include "bench/baseline_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

extern char** environ;

namespace graphc::bench {
namespace {

struct ProcessOutput {
  int exit_code = -1;      // -1: could not start, or killed by a signal
  std::string out;         // stdout
  std::string err_last;    // last non-empty line of stderr
};

std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return last;
}

ProcessOutput run_process(const std::vector<std::string>& argv) {
  ProcessOutput result;
  char err_path[] = "/tmp/graphc-bench-baseline-XXXXXX";
  const int err_fd = mkstemp(err_path);
  if (err_fd < 0) {
    result.err_last = "cannot create a temporary file for the baseline's stderr";
    return result;
  }
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    close(err_fd);
    unlink(err_path);
    result.err_last = "cannot create a pipe for the baseline's stdout";
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  posix_spawn_file_actions_addclose(&actions, err_fd);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  close(err_fd);

  if (spawned == 0) {
    char buffer[4096];
    ssize_t n;
    while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) result.out.append(buffer, size_t(n));
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    result.err_last = last_line(err_path);
  } else {
    result.err_last = "cannot start " + argv[0];
  }
  close(pipe_fds[0]);
  unlink(err_path);
  return result;
}

std::string json_line(const std::string& out) {
  std::istringstream in(out);
  std::string line, found;
  while (std::getline(in, line)) {
    if (!line.empty() && line.front() == '{') found = line;
  }
  return found;
}

}  // namespace

std::string baseline_python() {
  const char* env = std::getenv("GRAPHC_BENCH_PYTHON");
  return env && *env ? env : "python3";
}

std::string default_prompt_ids_path() { return std::string(GRAPHC_SOURCE_DIR) + "/bench/gemma3_prompt_ids.json"; }

std::string default_gemma3_gguf_path() {
  return std::string(GRAPHC_SOURCE_DIR) + "/models/gemma-3-270m-Q4_K_M.gguf";
}

std::optional<std::string> run_baseline_script(const std::string& script, const std::vector<std::string>& args,
                                               const std::string& modules, std::string* skip_reason) {
  auto skip = [&](std::string reason) -> std::optional<std::string> {
    if (skip_reason) *skip_reason = std::move(reason);
    return std::nullopt;
  };
  const std::string python = baseline_python();
  ProcessOutput probe = run_process({python, "-c", "import " + modules});
  if (probe.exit_code != 0)
    return skip("baseline skipped: " + python + " cannot import " + modules + " (" + probe.err_last +
                "); set GRAPHC_BENCH_PYTHON to an interpreter that has them, e.g. <source>/.venv-reference/bin/python");
  std::vector<std::string> argv = {python, std::string(GRAPHC_SOURCE_DIR) + "/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOutput run = run_process(argv);
  if (run.exit_code != 0)
    return skip(script + " failed (exit " + std::to_string(run.exit_code) + "): " + run.err_last);
  const std::string line = json_line(run.out);
  if (line.empty()) return skip(script + " printed no JSON line");
  return line;
}

std::optional<BaselineResult> run_pytorch_baseline(const BaselineOptions& options, std::string* skip_reason) {
  auto skip = [&](std::string reason) -> std::optional<BaselineResult> {
    if (skip_reason) *skip_reason = std::move(reason);
    return std::nullopt;
  };
  const std::string python = baseline_python();

  // A cheap probe first, so a machine without torch gets a clear reason
  // instead of a traceback from deep inside the script.
  ProcessOutput probe = run_process({python, "-c", "import torch, transformers, gguf"});
  if (probe.exit_code != 0) {
    return skip("PyTorch baseline skipped: " + python + " cannot import torch, transformers and gguf (" +
                probe.err_last + "); set GRAPHC_BENCH_PYTHON to an interpreter that has them, e.g. "
                "<source>/.venv-reference/bin/python");
  }

  const std::vector<std::string> argv = {
      python,
      std::string(GRAPHC_SOURCE_DIR) + "/bench/pytorch_gemma3.py",
      "--gguf", options.gguf.empty() ? default_gemma3_gguf_path() : options.gguf,
      "--ids", options.ids_file.empty() ? default_prompt_ids_path() : options.ids_file,
      "--prompt-tokens", std::to_string(options.prompt_tokens),
      "--decode-tokens", std::to_string(options.decode_tokens),
      "--threads", std::to_string(options.threads),
      "--repeat", std::to_string(options.repeat),
  };
  ProcessOutput run = run_process(argv);
  if (run.exit_code != 0) {
    return skip("PyTorch baseline failed (exit " + std::to_string(run.exit_code) + "): " + run.err_last);
  }
  const std::string line = json_line(run.out);
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return skip("PyTorch baseline printed no JSON line");

  try {
    BaselineResult r;
    r.prefill_tokens_per_s = j.at("prefill_tokens_per_s").get<double>();
    r.decode_tokens_per_s = j.at("decode_tokens_per_s").get<double>();
    r.peak_rss_bytes = j.at("peak_rss_bytes").get<int64_t>();
    if (j.contains("peak_rss_run_bytes") && j["peak_rss_run_bytes"].is_number())
      r.peak_rss_run_bytes = j["peak_rss_run_bytes"].get<int64_t>();
    r.threads = j.at("threads").get<int>();
    r.torch_version = j.at("torch").get<std::string>();
    r.transformers_version = j.at("transformers").get<std::string>();
    if (j.contains("greedy_ids") && j["greedy_ids"].is_array())
      r.greedy_ids = j["greedy_ids"].get<std::vector<int32_t>>();
    r.json = line;
    return r;
  } catch (const nlohmann::json::exception& error) {
    return skip(std::string("PyTorch baseline's JSON line lacks a field: ") + error.what());
  }
}

}  // namespace graphc::bench
