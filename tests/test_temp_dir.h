// A scratch directory for one test binary, removed when its tests end.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace graphc::test_support {

// <gtest temp dir>/<prefix><pid>, created on first use.
inline std::filesystem::path scratch_dir(const std::string& prefix) {
  static const std::filesystem::path dir = [&] {
    std::filesystem::path d = std::filesystem::path(::testing::TempDir()) / (prefix + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Registers removal of the scratch directory after all tests; call once.
inline bool remove_scratch_dir_at_exit(const std::string& prefix) {
  class Remove : public ::testing::Environment {
   public:
    explicit Remove(std::string p) : prefix_(std::move(p)) {}
    void TearDown() override {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(prefix_), ignored);
    }

   private:
    std::string prefix_;
  };
  ::testing::AddGlobalTestEnvironment(new Remove(prefix));
  return true;
}

}  // namespace graphc::test_support
