#include "runtime/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "runtime/page_memory.h"

namespace graphc {
namespace {

std::string errno_text() { return std::strerror(errno); }

// Closes the descriptor on every path out of open().
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Expected<MappedFile> MappedFile::open(const std::string& path) {
  FdCloser fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) return Error{fmt::format("{}: cannot open for reading: {}", path, errno_text())};
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) return Error{fmt::format("{}: cannot stat: {}", path, errno_text())};
  if (!S_ISREG(st.st_mode)) return Error{fmt::format("{}: not a regular file", path)};
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0) return MappedFile(path, nullptr, 0);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (p == MAP_FAILED)
    return Error{fmt::format("{}: cannot map {} bytes: {}", path, size, errno_text())};
  // Pages the file reads in on our faults then come as 2 MiB folios mapped
  // by one entry each (measured: 112 of the 120 huge pages of the 241 MiB
  // Gemma GGUF, against 47 without the advice), like the anonymous buffers
  // of page_memory.h. Streaming the LM head from the file's 4 KiB pages was
  // measured up to 20% slower (bench/RESULTS.md). Pages already cached keep
  // their size.
  advise_huge_pages(p, size);
  return MappedFile(path, static_cast<const uint8_t*>(p), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { unmap(); }

void MappedFile::unmap() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

namespace {

Status write_all(int fd, std::span<const uint8_t> bytes, const std::string& tmp) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{fmt::format("{}: write failed: {}", tmp, errno_text())};
    done += static_cast<size_t>(n);
  }
  return Status::success();
}

}  // namespace

Status write_file_atomically(const std::string& path, std::span<const uint8_t> bytes) {
  return write_file_atomically(path, [&](const ByteSink& sink) { return sink(bytes); });
}

Status write_file_atomically(const std::string& path, const std::function<Status(const ByteSink&)>& produce) {
  // Same directory as the target, so the rename stays on one file system.
  const std::string tmp = fmt::format("{}.{}.tmp", path, ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{fmt::format("{}: cannot create: {}", tmp, errno_text())};
  Status written = produce([&](std::span<const uint8_t> bytes) { return write_all(fd, bytes, tmp); });
  if (written.ok() && ::fsync(fd) != 0) written = Error{fmt::format("{}: fsync failed: {}", tmp, errno_text())};
  if (::close(fd) != 0 && written.ok())
    written = Error{fmt::format("{}: close failed: {}", tmp, errno_text())};
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    written = Error{fmt::format("{}: cannot rename {} over it: {}", path, tmp, errno_text())};
  if (!written.ok()) ::unlink(tmp.c_str());
  return written;
}

}  // namespace graphc
