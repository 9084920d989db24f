#include "runtime/page_memory.h"

#include <cstdint>
#include <new>

#include <sys/mman.h>

namespace graphc {
namespace {

constexpr size_t kHuge = size_t{2} << 20;
constexpr size_t kHugeFrom = 2 * kHuge;

}  // namespace

void advise_huge_pages(void* start, size_t bytes) {
  if (bytes >= kHugeFrom) ::madvise(start, bytes, MADV_HUGEPAGE);
}

std::shared_ptr<void> map_zero_pages(size_t bytes) {
  const bool huge = bytes >= kHugeFrom;
  // A huge-page buffer reserves one huge page more, to start on a boundary;
  // the slack is never touched, so it costs address space only.
  const size_t reserved = huge ? bytes + kHuge : bytes;
  void* p = ::mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  void* start = p;
  if (huge) {
    start = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1));
    advise_huge_pages(start, bytes);
  }
  return std::shared_ptr<void>(start, [p, reserved](void*) { ::munmap(p, reserved); });
}

}  // namespace graphc
