#include "runtime/page_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace graphc {
namespace {

bool all_zero(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != 0) return false;
  return true;
}

uintptr_t address(const std::shared_ptr<void>& p) { return reinterpret_cast<uintptr_t>(p.get()); }

TEST(PageMemory, SmallBuffersArePageAlignedZeroedAndWritable) {
  const size_t bytes = (1 << 20) + 100;
  auto p = map_zero_pages(bytes);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(address(p) % 4096, 0u);
  EXPECT_TRUE(all_zero(p.get(), bytes));
  std::memset(p.get(), 0xab, bytes);
  EXPECT_EQ(static_cast<unsigned char*>(p.get())[bytes - 1], 0xab);
}

// The huge-page case starts inside a larger reservation: the whole of
// `bytes` from the returned pointer must be usable (a wrong offset or a
// reservation one huge page short shows up as a crash or a non-zero byte).
TEST(PageMemory, BuffersOfFourMiBAndMoreStartOnA2MiBBoundary) {
  for (size_t bytes : {size_t{4} << 20, (size_t{4} << 20) + 1, (size_t{37} << 20) + 12345}) {
    auto p = map_zero_pages(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(address(p) % (size_t{2} << 20), 0u) << bytes;
    EXPECT_TRUE(all_zero(p.get(), bytes)) << bytes;
    std::memset(p.get(), 0x5a, bytes);
    EXPECT_EQ(static_cast<unsigned char*>(p.get())[bytes - 1], 0x5a) << bytes;
  }
}

TEST(PageMemory, BuffersOutliveTheirFirstOwner) {
  std::shared_ptr<void> kept;
  {
    auto p = map_zero_pages(size_t{8} << 20);
    static_cast<unsigned char*>(p.get())[0] = 7;
    kept = p;
  }
  EXPECT_EQ(static_cast<unsigned char*>(kept.get())[0], 7);
}

}  // namespace
}  // namespace graphc
