// Large zero-filled buffers taken from the kernel page by page, for weights,
// arenas and the benchmarks' streams.
#pragma once

#include <cstddef>
#include <memory>

namespace graphc {

// `bytes` of zero pages (they cost nothing until touched), page-aligned.
// From 4 MiB on the buffer starts on a 2 MiB boundary and asks for
// transparent huge pages. Why: a stream over 4 KiB pages faulted in one by
// one reads scattered physical memory, and decode's weight streams ran
// 10-20% slower from it than from huge pages (bench/RESULTS.md, "Physical
// memory"). Throws std::bad_alloc when the kernel refuses the mapping.
std::shared_ptr<void> map_zero_pages(size_t bytes);

// Asks for transparent huge pages on [start, start + bytes) when the range is
// 4 MiB or more, the size from which map_zero_pages aligns to 2 MiB; smaller
// ranges are left as they are. Advice only: the kernel may have none to give.
// For a file mapping it applies to the pages read in on later faults.
void advise_huge_pages(void* start, size_t bytes);

}  // namespace graphc
