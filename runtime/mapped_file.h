// File I/O for checkpoints: a read-only memory mapping (weights are used in
// place, never copied) and an atomic whole-file write (a crash never leaves a
// half-written checkpoint).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "ir/status.h"

namespace graphc {

class MappedFile {
 public:
  // Maps the whole file read-only. An empty file gives an empty span.
  static Expected<MappedFile> open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  size_t size() const { return size_; }
  const uint8_t* data() const { return data_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  void unmap();

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Writes `bytes` to a temporary file next to `path`, flushes it to disk and
// renames it over `path`, so readers see either the old file or the new one.
Status write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);
// The same, with the bytes produced piece by piece: `produce` hands each piece
// to the sink it is given (so a large file never needs to be in memory whole).
using ByteSink = std::function<Status(std::span<const uint8_t>)>;
Status write_file_atomically(const std::string& path, const std::function<Status(const ByteSink&)>& produce);
inline Status write_file_atomically(const std::string& path, std::string_view text) {
  return write_file_atomically(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace graphc
