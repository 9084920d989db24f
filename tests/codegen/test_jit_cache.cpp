// The on-disk object cache: a second backend compiling the same program with
// the same cache directory loads the object instead of compiling it, gets the
// same results, and a damaged cache file is recompiled rather than loaded.
#include <gtest/gtest.h>

#include <fstream>

#include "backends/cpu/cpu_backend.h"
#include "ir/parser.h"
#include "tests/codegen/jit_check.h"
#include "tests/test_temp_dir.h"

namespace graphc {
namespace {

const bool kCleanup = test_support::remove_scratch_dir_at_exit("graphc-jit-cache-");

const char* kProgram = R"(module @t
func @f(%a: f32[8,100], %b: f32[100]) -> (f32[8,100]) {
  %m = mul %a, %b : f32[8,100]
  %t = tanh %m : f32[8,100]
  %y = add %t, %a : f32[8,100]
  return %y
}
)";

struct CompiledRun {
  CompileStats stats;
  HostTensor result;
};

CompiledRun compile_and_run(const std::string& cache_dir) {
  auto m = parse_module(kProgram);
  if (!m.ok()) throw GraphcError(m.error().message);
  CpuBackend b(**m, {.threads = 1, .cache_dir = cache_dir});
  auto r = b.run("f", {test_support::random_tensor(DType::f32, {8, 100}, 1),
                       test_support::random_tensor(DType::f32, {100}, 2)});
  if (!r.ok()) throw GraphcError(r.error().message);
  return {b.stats(), (*r)[0]};
}

std::vector<std::filesystem::path> cache_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  return files;
}

TEST(JitCache, SecondCompileLoadsTheObject) {
  const auto dir = test_support::scratch_dir("graphc-jit-cache-") / "second";
  const CompiledRun first = compile_and_run(dir.string());
  EXPECT_EQ(first.stats.cache_misses, 1);
  EXPECT_EQ(first.stats.cache_hits, 0);
  ASSERT_EQ(cache_files(dir).size(), 1u);
  const CompiledRun second = compile_and_run(dir.string());
  EXPECT_EQ(second.stats.cache_hits, 1);
  EXPECT_EQ(second.stats.cache_misses, 0);
  EXPECT_EQ(first.result.floats(), second.result.floats());
}

TEST(JitCache, DamagedCacheFileIsRecompiled) {
  const auto dir = test_support::scratch_dir("graphc-jit-cache-") / "damaged";
  const CompiledRun first = compile_and_run(dir.string());
  const auto files = cache_files(dir);
  ASSERT_EQ(files.size(), 1u);
  // Truncate the object to half its size.
  const auto size = std::filesystem::file_size(files[0]);
  std::filesystem::resize_file(files[0], size / 2);
  const CompiledRun second = compile_and_run(dir.string());
  EXPECT_EQ(second.stats.cache_misses, 1);
  EXPECT_EQ(first.result.floats(), second.result.floats());
  EXPECT_EQ(std::filesystem::file_size(files[0]), size);  // rewritten whole
}

TEST(JitCache, NoCacheDirectoryCompilesEveryTime) {
  EXPECT_EQ(compile_and_run("").stats.cache_misses, 1);
  EXPECT_EQ(compile_and_run("").stats.cache_misses, 1);
}

}  // namespace
}  // namespace graphc
