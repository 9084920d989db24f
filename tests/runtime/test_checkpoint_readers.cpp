// Checkpoint readers and writers: ggml block dequantization against blocks
// built and decoded by hand, GGUF and safetensors round trips through the
// writers, every kind of corruption the readers must refuse (with a message
// naming the file and what was wrong), the committed fuzz seeds, and the
// real Gemma-3 270M Q4_K_M GGUF when models/ has it.
#include <gtest/gtest.h>

#include "tests/test_models.h"
#include "tests/test_temp_dir.h"

#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "runtime/dequantize.h"
#include "runtime/ggml_type.h"
#include "runtime/gguf_reader.h"
#include "runtime/gguf_writer.h"
#include "runtime/mapped_file.h"
#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"

namespace graphc {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------- helpers

fs::path temp_dir() { return test_support::scratch_dir("graphc_checkpoint_"); }
std::string temp_path(const std::string& name) { return (temp_dir() / name).string(); }
[[maybe_unused]] const bool kRemoveTempDir = test_support::remove_scratch_dir_at_exit("graphc_checkpoint_");

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
void poke(Bytes& b, size_t at, T v) {
  ASSERT_LE(at + sizeof(T), b.size());
  std::memcpy(b.data() + at, &v, sizeof(T));
}

template <typename T>
T peek(const Bytes& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

// Offset of the first occurrence of `s` in `b` (the test files are built so
// that every searched name occurs once).
size_t find(const Bytes& b, const std::string& s) {
  auto it = std::search(b.begin(), b.end(), s.begin(), s.end());
  EXPECT_NE(it, b.end()) << "'" << s << "' not in the file";
  return static_cast<size_t>(it - b.begin());
}

template <typename T>
void expect_error(const Expected<T>& r, const std::vector<std::string>& parts) {
  ASSERT_FALSE(r.ok()) << "expected an error mentioning '" << parts.front() << "'";
  for (const auto& p : parts) EXPECT_NE(r.error().message.find(p), std::string::npos)
      << "message: " << r.error().message << "\nmissing: " << p;
}

uint16_t h(float f) { return float_to_f16_bits(f); }

void put_u16(Bytes& b, size_t at, uint16_t v) { std::memcpy(b.data() + at, &v, 2); }

std::vector<float> dequantize(GgmlType t, const Bytes& block, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  Status s = dequantize_row(t, block.data(), out.data(), n);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return out;
}

// ------------------------------------------------------------- ggml types

TEST(GgmlType, BlockGeometryMatchesTheFormatTable) {
  const std::map<GgmlType, std::pair<int64_t, int64_t>> expected = {
      {GgmlType::F32, {1, 4}},     {GgmlType::F16, {1, 2}},     {GgmlType::BF16, {1, 2}},
      {GgmlType::Q8_0, {32, 34}},  {GgmlType::Q4_0, {32, 18}},  {GgmlType::Q4_1, {32, 20}},
      {GgmlType::Q5_0, {32, 22}},  {GgmlType::Q5_1, {32, 24}},  {GgmlType::Q4_K, {256, 144}},
      {GgmlType::Q5_K, {256, 176}}, {GgmlType::Q6_K, {256, 210}}, {GgmlType::Q8_K, {256, 292}},
  };
  for (auto [t, geometry] : expected) {
    EXPECT_EQ(block_elems(t), geometry.first) << ggml_type_name(t);
    EXPECT_EQ(block_bytes(t), geometry.second) << ggml_type_name(t);
    EXPECT_EQ(ggml_type_from_id(static_cast<uint32_t>(t)), t);
    EXPECT_EQ(parse_ggml_type(ggml_type_name(t)), t);
  }
  EXPECT_EQ(static_cast<uint32_t>(GgmlType::BF16), 30u);
  EXPECT_EQ(static_cast<uint32_t>(GgmlType::Q6_K), 14u);
  EXPECT_FALSE(ggml_type_from_id(4).has_value());  // removed Q4_2
  EXPECT_FALSE(ggml_type_from_id(16).has_value());  // IQ2_XXS: not supported
}

TEST(GgmlType, RowBytes) {
  EXPECT_EQ(row_bytes(GgmlType::F32, 10), 40);
  EXPECT_EQ(row_bytes(GgmlType::Q8_0, 640), 20 * 34);
  EXPECT_EQ(row_bytes(GgmlType::Q5_0, 640), 20 * 22);
  EXPECT_EQ(row_bytes(GgmlType::Q4_K, 2048), 8 * 144);
  EXPECT_EQ(row_bytes(GgmlType::Q6_K, 2048), 8 * 210);
  EXPECT_FALSE(row_bytes(GgmlType::Q4_K, 640));  // 640 is not whole 256-blocks (hence Q5_0 in Gemma-3 270M)
  EXPECT_FALSE(row_bytes(GgmlType::Q8_0, 33));
  EXPECT_FALSE(row_bytes(GgmlType::F32, -1));
  EXPECT_FALSE(row_bytes(GgmlType::F32, std::numeric_limits<int64_t>::max()));
}

// ---------------------------------------------------------- dequantization

TEST(Dequantize, F32F16Bf16) {
  Bytes f16(12);
  const uint16_t halves[] = {0x3C00, 0xC000, 0x3555, 0x7C00, 0x0001, 0x8000};
  std::memcpy(f16.data(), halves, sizeof(halves));
  auto y = dequantize(GgmlType::F16, f16, 6);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 0.333251953125f);
  EXPECT_EQ(y[3], INFINITY);
  EXPECT_EQ(y[4], std::ldexp(1.0f, -24));  // smallest subnormal half
  EXPECT_TRUE(y[5] == 0.0f && std::signbit(y[5]));

  Bytes bf16(8);
  const uint16_t brains[] = {0x3F80, 0xC049, 0x0000, 0xFF80};
  std::memcpy(bf16.data(), brains, sizeof(brains));
  y = dequantize(GgmlType::BF16, bf16, 4);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -3.140625f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(y[3], -INFINITY);

  const float floats[] = {1.5f, -0.25f, 1e30f};
  Bytes f32(sizeof(floats));
  std::memcpy(f32.data(), floats, sizeof(floats));
  y = dequantize(GgmlType::F32, f32, 3);
  EXPECT_EQ(y, std::vector<float>(std::begin(floats), std::end(floats)));
}

TEST(Dequantize, Q8_0) {
  Bytes b(34);
  put_u16(b, 0, h(0.125f));
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(8 * j - 128));
  auto y = dequantize(GgmlType::Q8_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], static_cast<float>(j - 16)) << j;  // 0.125 * (8j - 128)
}

// qs[j] = j in the low nibble, 15 - j in the high nibble, for the 32-element types.
void fill_nibbles(Bytes& b, size_t at) {
  for (int j = 0; j < 16; ++j) b[at + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
}

TEST(Dequantize, Q4_0) {
  Bytes b(18);
  put_u16(b, 0, h(2.0f));
  fill_nibbles(b, 2);
  auto y = dequantize(GgmlType::Q4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.0f * (j - 8)) << j;            // low nibble, element j
    EXPECT_EQ(y[j + 16], 2.0f * (15 - j - 8)) << j;  // high nibble, element j + 16
  }
  EXPECT_EQ(y[3], -10.0f);
  EXPECT_EQ(y[19], 8.0f);
}

TEST(Dequantize, Q4_1) {
  Bytes b(20);
  put_u16(b, 0, h(0.5f));
  put_u16(b, 2, h(-1.0f));
  fill_nibbles(b, 4);
  auto y = dequantize(GgmlType::Q4_1, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * j - 1.0f);
    EXPECT_EQ(y[j + 16], 0.5f * (15 - j) - 1.0f);
  }
}

TEST(Dequantize, Q5_0UsesTheHighBitsOfQh) {
  Bytes b(22);
  put_u16(b, 0, h(0.25f));
  poke<uint32_t>(b, 2, 0x80010001u);  // fifth bit set for elements 0, 16 and 31
  fill_nibbles(b, 6);
  auto y = dequantize(GgmlType::Q5_0, b, 32);
  EXPECT_EQ(y[0], 0.0f);     // (0 | 16) - 16
  EXPECT_EQ(y[5], -2.75f);   // 5 - 16
  EXPECT_EQ(y[16], 3.75f);   // (15 | 16) - 16
  EXPECT_EQ(y[17], -0.5f);   // 14 - 16
  EXPECT_EQ(y[30], -3.75f);  // 1 - 16
  EXPECT_EQ(y[31], 0.0f);    // (0 | 16) - 16
  for (int i = 0; i < 32; ++i) {
    const int nibble = i < 16 ? i : 15 - (i - 16);
    const int high = (i == 0 || i == 16 || i == 31) ? 16 : 0;
    EXPECT_EQ(y[i], 0.25f * (nibble + high - 16)) << i;
  }
}

TEST(Dequantize, Q5_1) {
  Bytes b(24);
  put_u16(b, 0, h(1.0f));
  put_u16(b, 2, h(0.5f));
  poke<uint32_t>(b, 4, 0xFFFF0000u);  // fifth bit on the high-nibble half only
  fill_nibbles(b, 8);
  auto y = dequantize(GgmlType::Q5_1, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j + 0.5f);
    EXPECT_EQ(y[j + 16], (15 - j) + 16 + 0.5f);
  }
}

// A K-quant header with hand-packed 6-bit scales and mins (gemma3.md §4.2):
//   sc = {1, 2, 3, 4, 17, 5, 33, 63}, m = {0, 1, 2, 3, 16, 4, 0, 48}
// bytes 0-3: sc0..3 | (sc4..7 >> 4) << 6; bytes 4-7: m0..3 | (m4..7 >> 4) << 6;
// bytes 8-11: (sc4..7 & 15) | (m4..7 & 15) << 4.
constexpr int kSc[8] = {1, 2, 3, 4, 17, 5, 33, 63};
constexpr int kMin[8] = {0, 1, 2, 3, 16, 4, 0, 48};
constexpr uint8_t kPackedScales[12] = {0x41, 0x02, 0x83, 0xC4, 0x40, 0x01, 0x02, 0xC3, 0x01, 0x45, 0x01, 0x0F};

void fill_k_header(Bytes& b) {
  put_u16(b, 0, h(0.5f));   // d
  put_u16(b, 2, h(0.25f));  // dmin
  std::memcpy(b.data() + 4, kPackedScales, 12);
}

// Quant bytes of chunk c: low nibble l % 16, high nibble 15 - l % 16.
void fill_k_quants(Bytes& b, size_t at) {
  for (int i = 0; i < 128; ++i) b[at + i] = static_cast<uint8_t>((i % 16) | ((15 - i % 16) << 4));
}

TEST(Dequantize, Q4_K) {
  Bytes b(144);
  fill_k_header(b);
  fill_k_quants(b, 16);
  auto y = dequantize(GgmlType::Q4_K, b, 256);
  EXPECT_EQ(y[0], 0.0f);      // sub-block 0: 0.5*1*0 - 0.25*0
  EXPECT_EQ(y[33], 13.75f);   // sub-block 1, high nibble of qs[1] = 14: 0.5*2*14 - 0.25*1
  EXPECT_EQ(y[130], 13.0f);   // sub-block 4, low nibble 2: 0.5*17*2 - 0.25*16
  EXPECT_EQ(y[200], 132.0f);  // sub-block 6, low nibble 8: 0.5*33*8 - 0
  EXPECT_EQ(y[255], -12.0f);  // sub-block 7, high nibble 0: 0 - 0.25*48
  for (int e = 0; e < 256; ++e) {
    const int chunk = e / 64, l = e % 32, j = e / 32;
    const bool high = (e % 64) >= 32;
    const int q = high ? 15 - l % 16 : l % 16;
    EXPECT_EQ(y[e], 0.5f * kSc[j] * q - 0.25f * kMin[j]) << e << " chunk " << chunk;
  }
}

TEST(Dequantize, Q5_K) {
  Bytes b(176);
  fill_k_header(b);
  for (int l = 0; l < 32; ++l) b[16 + l] = static_cast<uint8_t>(l * 7);  // qh
  fill_k_quants(b, 48);
  auto y = dequantize(GgmlType::Q5_K, b, 256);
  // qh[3] = 21 = 0b10101: bits 0, 2, 4 set.
  EXPECT_EQ(y[3], 9.5f);     // chunk 0 low, bit 0 set: 0.5*1*(3+16)
  EXPECT_EQ(y[35], 11.75f);  // chunk 0 high, bit 1 clear: 0.5*2*12 - 0.25*1
  EXPECT_EQ(y[131], 157.5f); // chunk 2 low, bit 4 set: 0.5*17*19 - 0.25*16
  for (int e = 0; e < 256; ++e) {
    const int chunk = e / 64, l = e % 32, j = e / 32;
    const bool high = (e % 64) >= 32;
    const int bit = 2 * chunk + (high ? 1 : 0);
    const int q = (high ? 15 - l % 16 : l % 16) + (((l * 7) & 0xFF) >> bit & 1) * 16;
    EXPECT_EQ(y[e], 0.5f * kSc[j] * q - 0.25f * kMin[j]) << e;
  }
}

TEST(Dequantize, Q6_K) {
  Bytes b(210);
  for (int k = 0; k < 128; ++k) b[k] = static_cast<uint8_t>((k & 0xF) | ((15 - (k & 0xF)) << 4));  // ql
  for (int k = 0; k < 64; ++k) b[128 + k] = static_cast<uint8_t>(k * 37);                          // qh
  for (int k = 0; k < 16; ++k) b[192 + k] = static_cast<uint8_t>(static_cast<int8_t>(k - 8));     // scales
  put_u16(b, 208, h(0.5f));                                                                         // d, last
  auto y = dequantize(GgmlType::Q6_K, b, 256);
  EXPECT_EQ(y[0], 128.0f);    // q = 0 - 32, scale -8: 0.5*-8*-32
  EXPECT_EQ(y[100], -11.0f);  // ql[36] high nibble 11, qh[4] = 148 bits 6-7 = 2: q = 43 - 32, scale -2
  EXPECT_EQ(y[200], -50.0f);  // ql[72] high nibble 7, qh[40] = 200 bits 4-5 = 0: q = -25, scale 4
  EXPECT_EQ(y[255], -112.0f); // ql[127] high nibble 0, qh[63] = 27 bits 6-7 = 0: q = -32, scale 7
  // Element e: half e / 128; quarter k of the half; low bits from ql byte
  // 64*half + 32*(k odd) + l (low nibble for k < 2); top bits 2k, 2k+1 of qh[32*half + l].
  for (int e = 0; e < 256; ++e) {
    const int half = e / 128, k = (e % 128) / 32, l = e % 32;
    const int ql = b[64 * half + 32 * (k % 2) + l];
    const int low = k < 2 ? ql & 15 : ql >> 4;
    const int top = (b[128 + 32 * half + l] >> (2 * k)) & 3;
    EXPECT_EQ(y[e], 0.5f * (e / 16 - 8) * ((low | top << 4) - 32)) << e;
  }
}

TEST(Dequantize, Q8_K) {
  Bytes b(292);
  poke<float>(b, 0, 0.5f);
  for (int j = 0; j < 256; ++j) b[4 + j] = static_cast<uint8_t>(j);  // int8: 0..127, -128..-1
  auto y = dequantize(GgmlType::Q8_K, b, 256);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(y[j], 0.5f * static_cast<int8_t>(j));
}

TEST(Dequantize, SeveralBlocksAndPartialBlocks) {
  Bytes b(68);
  put_u16(b, 0, h(1.0f));
  put_u16(b, 34, h(-1.0f));
  for (int j = 0; j < 32; ++j) b[2 + j] = b[36 + j] = static_cast<uint8_t>(j);
  auto y = dequantize(GgmlType::Q8_0, b, 64);
  EXPECT_EQ(y[31], 31.0f);
  EXPECT_EQ(y[63], -31.0f);
  std::vector<float> out(40);
  Status s = dequantize_row(GgmlType::Q8_0, b.data(), out.data(), 40);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("Q8_0"), std::string::npos);
  EXPECT_NE(s.error().message.find("40"), std::string::npos);
}

// ------------------------------------------------------------ GGUF round trip

Bytes q4_k_block() {
  Bytes b(144);
  fill_k_header(b);
  fill_k_quants(b, 16);
  return b;
}

std::vector<float> iota_floats(size_t n, float scale, float start = 0) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + scale * static_cast<float>(i);
  return v;
}

GgufWriter sample_gguf() {
  GgufWriter w;
  w.set_string("general.architecture", "gemma3");
  w.set_u32("gemma3.block_count", 18);
  w.set_f32("gemma3.rope.freq_base", 1e6f);
  w.set_bool("general.flag", true);
  w.set_i32("general.negative", -5);
  w.set_string_array("tokenizer.ggml.tokens", {"<pad>", "<eos>", "\xe2\x96\x81hi"});
  w.set_f32_array("tokenizer.ggml.scores", {0.0f, -1.5f, 2.0f});
  w.set_i32_array("tokenizer.ggml.token_type", {3, 3, 1});
  EXPECT_TRUE(w.add_tensor("w.f32", GgmlType::F32, {2, 3}, iota_floats(6, 1.0f, 1.0f)).ok());
  EXPECT_TRUE(w.add_tensor("w.f16", GgmlType::F16, {4}, std::vector<float>{0.5f, -2.0f, 1024.0f, 0.0f}).ok());
  EXPECT_TRUE(w.add_tensor("w.bf16", GgmlType::BF16, {2, 2}, std::vector<float>{1.0f, -3.140625f, 256.0f, 0.0f}).ok());
  EXPECT_TRUE(w.add_tensor("w.q8", GgmlType::Q8_0, {2, 64}, iota_floats(128, 0.03f, -1.9f)).ok());
  EXPECT_TRUE(w.add_raw_tensor("w.q4k", GgmlType::Q4_K, {1, 256}, q4_k_block()).ok());
  return w;
}

void check_sample_gguf(const GgufReader& r) {
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(r.alignment(), 32u);
  EXPECT_EQ(r.get_string("general.architecture"), "gemma3");
  EXPECT_EQ(r.get_u32("gemma3.block_count"), 18u);
  EXPECT_EQ(r.get_i32("gemma3.block_count"), 18);
  EXPECT_EQ(r.get_f32("gemma3.rope.freq_base"), 1e6f);
  EXPECT_EQ(r.get_bool("general.flag"), true);
  EXPECT_EQ(r.get_i32("general.negative"), -5);
  EXPECT_FALSE(r.get_u32("general.negative"));      // does not fit
  EXPECT_FALSE(r.get_u32("general.architecture"));  // wrong type
  EXPECT_FALSE(r.get_string("missing.key"));
  EXPECT_EQ(r.get_string_array("tokenizer.ggml.tokens"),
            (std::vector<std::string>{"<pad>", "<eos>", "\xe2\x96\x81hi"}));
  EXPECT_EQ(r.get_f32_array("tokenizer.ggml.scores"), (std::vector<float>{0.0f, -1.5f, 2.0f}));
  EXPECT_EQ(r.get_i32_array("tokenizer.ggml.token_type"), (std::vector<int32_t>{3, 3, 1}));
  EXPECT_FALSE(r.get_f32_array("tokenizer.ggml.tokens"));
  ASSERT_EQ(r.metadata().size(), 8u);
  EXPECT_EQ(r.metadata()[0].first, "general.architecture");  // file order

  ASSERT_EQ(r.tensors().size(), 5u);
  EXPECT_EQ(r.tensors()[0].name, "w.f32");
  EXPECT_EQ(r.tensors()[0].ne, (std::vector<int64_t>{3, 2}));  // ggml order
  for (const auto& t : r.tensors()) EXPECT_EQ((r.data_offset() + t.offset) % 32, 0u) << t.name;

  auto f32 = r.tensor("w.f32");
  ASSERT_TRUE(f32.ok());
  EXPECT_EQ(f32->shape, (std::vector<int64_t>{2, 3}));  // row-major order
  EXPECT_EQ(f32->type, GgmlType::F32);
  EXPECT_EQ(f32->n_bytes, 24u);
  EXPECT_EQ(r.dequantize_tensor("w.f32").value(), iota_floats(6, 1.0f, 1.0f));
  EXPECT_EQ(r.dequantize_rows("w.f32", 1, 1).value(), (std::vector<float>{4, 5, 6}));
  expect_error(r.dequantize_rows("w.f32", 1, 2), {r.path(), "w.f32", "2 rows"});
  EXPECT_EQ(r.dequantize_tensor("w.f16").value(), (std::vector<float>{0.5f, -2.0f, 1024.0f, 0.0f}));
  EXPECT_EQ(r.dequantize_tensor("w.bf16").value(), (std::vector<float>{1.0f, -3.140625f, 256.0f, 0.0f}));

  auto q8 = r.tensor("w.q8");
  ASSERT_TRUE(q8.ok());
  EXPECT_EQ(q8->type, GgmlType::Q8_0);
  EXPECT_EQ(q8->n_bytes, 4u * 34);
  const auto expected = iota_floats(128, 0.03f, -1.9f);
  const auto got = r.dequantize_tensor("w.q8").value();
  for (size_t i = 0; i < expected.size(); ++i) {
    float amax = 0;  // of i's 32-element block
    for (size_t j = i / 32 * 32; j < i / 32 * 32 + 32; ++j) amax = std::max(amax, std::fabs(expected[j]));
    // Half a quantization step, plus the f16 rounding of the scale.
    EXPECT_NEAR(got[i], expected[i], amax / 127 * 0.5f + 1e-3f * std::fabs(expected[i])) << i;
  }
  const auto q4k = r.dequantize_tensor("w.q4k").value();
  EXPECT_EQ(q4k, dequantize(GgmlType::Q4_K, q4_k_block(), 256));
  EXPECT_EQ(r.tensor("w.q4k")->shape, (std::vector<int64_t>{1, 256}));

  expect_error(r.tensor("no.such.tensor"), {r.path(), "no.such.tensor"});
}

TEST(Gguf, RoundTripThroughAFile) {
  const std::string path = temp_path("sample.gguf");
  ASSERT_TRUE(sample_gguf().write(path).ok());
  auto r = GgufReader::open(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path(), path);
  check_sample_gguf(*r);
  for (const auto& entry : fs::directory_iterator(temp_dir()))
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << "left behind: " << entry.path();
}

TEST(Gguf, RoundTripInMemory) {
  auto r = GgufReader::open_memory(sample_gguf().serialize(), "sample.gguf");
  ASSERT_TRUE(r.ok()) << r.error().message;
  check_sample_gguf(*r);
}

TEST(Gguf, ViewsOutliveTheReaderThroughKeepAlive) {
  std::shared_ptr<const void> keep;
  GgufTensorView view;
  {
    auto r = GgufReader::open_memory(sample_gguf().serialize(), "sample.gguf");
    ASSERT_TRUE(r.ok());
    keep = r->keep_alive();
    view = r->tensor("w.f32").value();
    view.name = {};  // the name belongs to the reader
  }
  float first;
  std::memcpy(&first, view.data, 4);
  EXPECT_EQ(first, 1.0f);
}

TEST(Gguf, CustomAlignment) {
  GgufWriter w = sample_gguf();
  ASSERT_TRUE(w.set_alignment(64).ok());
  EXPECT_FALSE(w.set_alignment(48).ok());
  auto r = GgufReader::open_memory(w.serialize(), "aligned.gguf");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->alignment(), 64u);
  EXPECT_EQ(r->data_offset() % 64, 0u);
  for (const auto& t : r->tensors()) EXPECT_EQ(t.offset % 64, 0u);
  EXPECT_EQ(r->dequantize_tensor("w.f32").value(), iota_floats(6, 1.0f, 1.0f));
}

TEST(Gguf, EveryScalarValueTypeAndVersion2) {
  GgufWriter w;
  w.set_value("v.u8", {uint8_t{200}});
  w.set_value("v.i8", {int8_t{-100}});
  w.set_value("v.u16", {uint16_t{60000}});
  w.set_value("v.i16", {int16_t{-30000}});
  w.set_value("v.u64", {uint64_t{1} << 40});
  w.set_value("v.i64", {int64_t{-7}});
  w.set_value("v.f64", {2.5});
  w.set_value("v.bools", {GgufArray{std::vector<bool>{true, false, true}}});
  w.set_value("v.u64s", {GgufArray{std::vector<uint64_t>{1, 2, 3}}});
  w.set_value("v.f64s", {GgufArray{std::vector<double>{0.5, 1.5}}});
  Bytes bytes = w.serialize();
  poke<uint32_t>(bytes, 4, 2);  // version 2 has the same layout
  auto r = GgufReader::open_memory(bytes, "scalars.gguf");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version(), 2u);
  EXPECT_EQ(r->get_u32("v.u8"), 200u);
  EXPECT_EQ(r->get_i32("v.i8"), -100);
  EXPECT_EQ(r->get_u32("v.u16"), 60000u);
  EXPECT_EQ(r->get_i32("v.i16"), -30000);
  EXPECT_EQ(r->get_u64("v.u64"), uint64_t{1} << 40);
  EXPECT_FALSE(r->get_u32("v.u64"));
  EXPECT_EQ(r->get_i32("v.i64"), -7);
  EXPECT_EQ(r->get_f32("v.f64"), 2.5f);
  EXPECT_EQ(r->get_i32_array("v.u64s"), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r->get_f32_array("v.f64s"), (std::vector<float>{0.5f, 1.5f}));
  const GgufValue* bools = r->find("v.bools");
  ASSERT_NE(bools, nullptr);
  EXPECT_EQ(std::get<GgufArray>(bools->value).elem_type(), GgufValueType::boolean);
  EXPECT_EQ(std::get<std::vector<bool>>(std::get<GgufArray>(bools->value).values), (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(r->tensors().empty());
}

TEST(Gguf, WriterRefusesBadTensors) {
  GgufWriter w;
  const std::vector<float> v(33, 1.0f);
  EXPECT_FALSE(w.add_tensor("q", GgmlType::Q8_0, {33}, v).ok());         // not whole blocks
  EXPECT_FALSE(w.add_tensor("q", GgmlType::Q4_K, {1, 256}, v).ok());     // cannot quantize Q4_K
  EXPECT_FALSE(w.add_tensor("f", GgmlType::F32, {2, 3}, v).ok());        // wrong count
  EXPECT_FALSE(w.add_raw_tensor("r", GgmlType::Q4_K, {256}, Bytes(10)).ok());
  ASSERT_TRUE(w.add_tensor("f", GgmlType::F32, {33}, v).ok());
  EXPECT_FALSE(w.add_tensor("f", GgmlType::F32, {33}, v).ok());          // duplicate
}

TEST(Gguf, Q8_0QuantizesTheStandardWay) {
  std::vector<float> x(32, 0.0f);
  x[0] = -31.75f;  // amax: d = 31.75 / 127 = 0.25
  x[1] = 12.5f;    // 50
  x[2] = 0.375f;   // 1.5 rounds away from zero to 2
  x[3] = -0.375f;  // -2
  const Bytes q = quantize_q8_0(x);
  ASSERT_EQ(q.size(), 34u);
  EXPECT_EQ(peek<uint16_t>(q, 0), float_to_f16_bits(0.25f));
  EXPECT_EQ(static_cast<int8_t>(q[2]), -127);
  EXPECT_EQ(static_cast<int8_t>(q[3]), 50);
  EXPECT_EQ(static_cast<int8_t>(q[4]), 2);
  EXPECT_EQ(static_cast<int8_t>(q[5]), -2);
  EXPECT_EQ(quantize_q8_0(std::vector<float>(32, 0.0f))[10], 0);  // d = 0 gives zeros, not NaN
}

TEST(Gguf, AtomicWriteLeavesNothingOnFailure) {
  const std::string path = temp_path("no/such/dir/out.gguf");
  Status s = sample_gguf().write(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("no/such/dir/out.gguf"), std::string::npos);
  EXPECT_FALSE(fs::exists(path));

  const std::string replaced = temp_path("replaced.gguf");
  write_bytes(replaced, Bytes(10, 0xAB));
  ASSERT_TRUE(sample_gguf().write(replaced).ok());
  EXPECT_TRUE(GgufReader::open(replaced).ok());
}

TEST(MappedFile, MapsAndReportsMissingFiles) {
  const std::string path = temp_path("mapped.bin");
  write_bytes(path, Bytes{1, 2, 3});
  auto m = MappedFile::open(path);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 3u);
  EXPECT_EQ(m->bytes()[2], 3);
  MappedFile moved = std::move(m).value();
  EXPECT_EQ(moved.bytes()[0], 1);

  const std::string empty = temp_path("empty.bin");
  write_bytes(empty, {});
  auto e = MappedFile::open(empty);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->size(), 0u);

  expect_error(MappedFile::open(temp_path("missing.bin")), {"missing.bin", "cannot open"});
  expect_error(MappedFile::open(temp_dir().string()), {"not a regular file"});
}

// --------------------------------------------------------- GGUF corruption

// Two tensors and one string array, so that every field kind can be hit.
Bytes small_gguf() {
  GgufWriter w;
  w.set_string_array("tok.list", {"a", "bc"});
  w.set_u32("some.count", 7);
  EXPECT_TRUE(w.add_tensor("first.weight", GgmlType::F32, {2, 4}, iota_floats(8, 1.0f)).ok());
  EXPECT_TRUE(w.add_tensor("second.weight", GgmlType::Q8_0, {32}, iota_floats(32, 0.1f)).ok());
  return w.serialize();
}

// Offsets of a tensor info's fields, found from its name.
struct TensorFields {
  size_t n_dims, ne0, type, offset;
};
TensorFields tensor_fields(const Bytes& b, const std::string& name) {
  const size_t n_dims = find(b, name) + name.size();
  const uint32_t dims = peek<uint32_t>(b, n_dims);
  const size_t type = n_dims + 4 + 8 * dims;
  return {n_dims, n_dims + 4, type, type + 4};
}

Expected<GgufReader> parse_gguf(const Bytes& b) { return GgufReader::open_memory(b, "corrupt.gguf"); }

TEST(GgufCorruption, BadMagicInAFile) {
  Bytes b = small_gguf();
  b[3] = 'X';
  const std::string path = temp_path("bad_magic.gguf");
  write_bytes(path, b);
  expect_error(GgufReader::open(path), {path, "bad magic", "47 47 55 58"});
  expect_error(GgufReader::open(temp_path("absent.gguf")), {"absent.gguf", "cannot open"});
  write_bytes(temp_path("empty.gguf"), {});
  expect_error(GgufReader::open(temp_path("empty.gguf")), {"empty.gguf", "empty file"});
}

TEST(GgufCorruption, UnsupportedVersions) {
  Bytes b = small_gguf();
  poke<uint32_t>(b, 4, 1);
  expect_error(parse_gguf(b), {"corrupt.gguf", "unsupported GGUF version 1", "expected 2 or 3"});
  poke<uint32_t>(b, 4, 0x03000000u);
  expect_error(parse_gguf(b), {"corrupt.gguf", "big-endian"});
}

TEST(GgufCorruption, EveryTruncationBeforeTheLastTensorEndsIsAnError) {
  const Bytes full = small_gguf();
  auto whole = parse_gguf(full);
  ASSERT_TRUE(whole.ok());
  uint64_t data_end = 0;
  for (const auto& t : whole->tensors()) data_end = std::max(data_end, whole->data_offset() + t.offset + t.n_bytes);
  for (size_t cut = 0; cut < full.size(); ++cut) {
    const Bytes b(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
    auto r = parse_gguf(b);
    if (cut >= data_end) {
      EXPECT_TRUE(r.ok()) << "cut " << cut << " only drops padding";
      continue;
    }
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    const std::string& m = r.error().message;
    EXPECT_EQ(m.rfind("corrupt.gguf: ", 0), 0u) << m;
    EXPECT_TRUE(m.find("truncated") != std::string::npos || m.find("past the end") != std::string::npos ||
                m.find("empty file") != std::string::npos)
        << "cut " << cut << ": " << m;
  }
}

TEST(GgufCorruption, TruncatedFilesOnDiskNameWhatWasBeingRead) {
  const Bytes full = small_gguf();
  auto cut_file = [&](size_t cut) {
    const std::string path = temp_path("cut_" + std::to_string(cut) + ".gguf");
    write_bytes(path, Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut)));
    return std::pair(path, GgufReader::open(path));
  };
  {
    auto [path, r] = cut_file(2);
    expect_error(r, {path, "truncated", "2 bytes"});
  }
  {
    auto [path, r] = cut_file(10);
    expect_error(r, {path, "truncated", "tensor count"});
  }
  {
    auto [path, r] = cut_file(find(full, "some.count") + 3);
    expect_error(r, {path, "truncated", "key of metadata entry #1"});
  }
  {
    auto [path, r] = cut_file(find(full, "bc") + 1);
    expect_error(r, {path, "truncated", "tok.list"});
  }
  {
    auto [path, r] = cut_file(tensor_fields(full, "second.weight").type + 2);
    expect_error(r, {path, "truncated", "second.weight"});
  }
  {
    auto [path, r] = cut_file(full.size() - 40);  // inside the data of second.weight
    expect_error(r, {path, "second.weight", "past the end of the file"});
  }
}

TEST(GgufCorruption, AbsurdCounts) {
  Bytes b = small_gguf();
  poke<uint64_t>(b, 8, uint64_t{1} << 60);
  expect_error(parse_gguf(b), {"corrupt.gguf", "absurd tensor count"});
  b = small_gguf();
  poke<uint64_t>(b, 16, ~uint64_t{0});
  expect_error(parse_gguf(b), {"corrupt.gguf", "absurd metadata count"});

  b = small_gguf();  // the string array's length: after key, type (u32) and element type (u32)
  poke<uint64_t>(b, find(b, "tok.list") + 8 + 4 + 4, uint64_t{1} << 50);
  expect_error(parse_gguf(b), {"corrupt.gguf", "tok.list", "array of", "remain"});

  b = small_gguf();  // a key length far past the end
  poke<uint64_t>(b, find(b, "some.count") - 8, uint64_t{1} << 40);
  expect_error(parse_gguf(b), {"corrupt.gguf", "truncated", "key of metadata entry #1"});
}

TEST(GgufCorruption, BadValueTypes) {
  Bytes b = small_gguf();
  poke<uint32_t>(b, find(b, "some.count") + 10, 13);  // value type
  expect_error(parse_gguf(b), {"corrupt.gguf", "some.count", "unknown value type 13"});
  b = small_gguf();
  poke<uint32_t>(b, find(b, "tok.list") + 8 + 4, 9);  // array element type: array
  expect_error(parse_gguf(b), {"corrupt.gguf", "tok.list", "array of arrays"});
}

TEST(GgufCorruption, DuplicateKeysAndTensors) {
  GgufWriter w;
  w.set_u32("key.aa", 1);
  w.set_u32("key.bb", 2);
  ASSERT_TRUE(w.add_tensor("t.one", GgmlType::F32, {1}, std::vector<float>{1}).ok());
  ASSERT_TRUE(w.add_tensor("t.two", GgmlType::F32, {1}, std::vector<float>{2}).ok());
  Bytes b = w.serialize();
  std::memcpy(b.data() + find(b, "key.bb"), "key.aa", 6);
  expect_error(parse_gguf(b), {"corrupt.gguf", "duplicate metadata key 'key.aa'"});
  b = w.serialize();
  std::memcpy(b.data() + find(b, "t.two"), "t.one", 5);
  expect_error(parse_gguf(b), {"corrupt.gguf", "duplicate tensor 't.one'"});
}

TEST(GgufCorruption, BadAlignmentKey) {
  GgufWriter w;
  w.set_u32("general.alignment", 48);
  expect_error(parse_gguf(w.serialize()), {"corrupt.gguf", "general.alignment", "power of two", "48"});
  w.set_string("general.alignment", "32");
  expect_error(parse_gguf(w.serialize()), {"corrupt.gguf", "general.alignment", "found string"});
}

TEST(GgufCorruption, TensorDataPastTheEndOfTheFile) {
  Bytes b = small_gguf();
  poke<uint64_t>(b, tensor_fields(b, "second.weight").offset, 1024);
  const std::string path = temp_path("past_eof.gguf");
  write_bytes(path, b);
  expect_error(GgufReader::open(path), {path, "tensor 'second.weight'", "past the end of the file"});
  poke<uint64_t>(b, tensor_fields(b, "second.weight").offset, ~uint64_t{0} - 31);  // offset + size overflows
  expect_error(parse_gguf(b), {"second.weight", "past the end of the file"});
}

TEST(GgufCorruption, MisalignedAndOverlappingOffsets) {
  Bytes b = small_gguf();
  poke<uint64_t>(b, tensor_fields(b, "second.weight").offset, 8);
  expect_error(parse_gguf(b), {"corrupt.gguf", "second.weight", "offset 8", "alignment 32"});
  b = small_gguf();
  poke<uint64_t>(b, tensor_fields(b, "second.weight").offset, 0);
  expect_error(parse_gguf(b), {"corrupt.gguf", "'first.weight'", "'second.weight'", "overlap"});
}

TEST(GgufCorruption, BadTensorTypesAndShapes) {
  Bytes b = small_gguf();
  poke<uint32_t>(b, tensor_fields(b, "second.weight").type, 99);
  expect_error(parse_gguf(b), {"corrupt.gguf", "second.weight", "unknown ggml type 99", "Q4_K (12)"});
  b = small_gguf();
  poke<uint64_t>(b, tensor_fields(b, "second.weight").ne0, 33);
  expect_error(parse_gguf(b), {"corrupt.gguf", "second.weight", "ne[0] = 33", "Q8_0 block size 32"});
  b = small_gguf();
  poke<uint32_t>(b, tensor_fields(b, "first.weight").n_dims, 5);
  expect_error(parse_gguf(b), {"corrupt.gguf", "first.weight", "5 dimensions", "at most 4"});
  b = small_gguf();
  poke<uint64_t>(b, tensor_fields(b, "first.weight").ne0, uint64_t{1} << 63);
  expect_error(parse_gguf(b), {"corrupt.gguf", "first.weight", "negative"});
  b = small_gguf();
  poke<uint64_t>(b, tensor_fields(b, "first.weight").ne0, uint64_t{1} << 62);
  expect_error(parse_gguf(b), {"corrupt.gguf", "first.weight", "overflow"});
}

// ------------------------------------------------------ safetensors round trip

SafetensorsWriter sample_safetensors() {
  SafetensorsWriter w;
  EXPECT_TRUE(w.set_metadata("format", "pt").ok());
  EXPECT_TRUE(w.add_tensor("model.norm.weight", SafetensorsDType::F32, {2, 3}, iota_floats(6, 0.5f)).ok());
  EXPECT_TRUE(w.add_tensor("model.embed", SafetensorsDType::BF16, {4}, std::vector<float>{1, -3.140625f, 0.5f, 0}).ok());
  EXPECT_TRUE(w.add_tensor("lora.a", SafetensorsDType::F16, {2, 1}, std::vector<float>{0.25f, -1024}).ok());
  return w;
}

void check_sample_safetensors(const SafetensorsReader& r) {
  EXPECT_EQ(r.metadata().at("format"), "pt");
  EXPECT_EQ(r.data_offset() % 8, 0u);
  ASSERT_EQ(r.tensors().size(), 3u);
  EXPECT_EQ(r.tensors()[0].name, "model.norm.weight");  // data order, as added
  EXPECT_EQ(r.tensors()[1].name, "model.embed");
  auto norm = r.tensor("model.norm.weight");
  ASSERT_TRUE(norm.ok());
  EXPECT_EQ(norm->dtype, SafetensorsDType::F32);
  EXPECT_EQ(norm->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(norm->n_bytes, 24u);
  EXPECT_EQ(r.to_f32("model.norm.weight").value(), iota_floats(6, 0.5f));
  EXPECT_EQ(r.to_f32("model.embed").value(), (std::vector<float>{1, -3.140625f, 0.5f, 0}));
  EXPECT_EQ(r.tensor("model.embed")->n_bytes, 8u);
  EXPECT_EQ(r.to_f32("lora.a").value(), (std::vector<float>{0.25f, -1024}));
  expect_error(r.tensor("missing"), {r.path(), "missing"});
}

TEST(Safetensors, RoundTripThroughAFile) {
  const std::string path = temp_path("sample.safetensors");
  ASSERT_TRUE(sample_safetensors().write(path).ok());
  auto r = SafetensorsReader::open(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  check_sample_safetensors(*r);
}

TEST(Safetensors, RoundTripInMemoryAndEmpty) {
  auto r = SafetensorsReader::open_memory(sample_safetensors().serialize(), "mem.safetensors");
  ASSERT_TRUE(r.ok()) << r.error().message;
  check_sample_safetensors(*r);
  auto empty = SafetensorsReader::open_memory(SafetensorsWriter().serialize(), "empty.safetensors");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->tensors().empty());
}

TEST(Safetensors, WriterRefusesBadTensors) {
  SafetensorsWriter w;
  EXPECT_FALSE(w.add_tensor("x", SafetensorsDType::I64, {1}, std::vector<float>{1}).ok());
  EXPECT_FALSE(w.add_tensor("x", SafetensorsDType::F32, {2}, std::vector<float>{1}).ok());
  EXPECT_FALSE(w.add_tensor("__metadata__", SafetensorsDType::F32, {1}, std::vector<float>{1}).ok());
  EXPECT_FALSE(w.add_tensor("bad\xff", SafetensorsDType::F32, {1}, std::vector<float>{1}).ok());
  EXPECT_FALSE(w.set_metadata("k", "\xc3").ok());
  EXPECT_TRUE(w.add_tensor("x", SafetensorsDType::F32, {1}, std::vector<float>{1}).ok());
  EXPECT_FALSE(w.add_tensor("x", SafetensorsDType::F32, {1}, std::vector<float>{1}).ok());
}

// --------------------------------------------------- safetensors corruption

Bytes safetensors_image(const std::string& header, size_t data_bytes) {
  Bytes b(8);
  poke<uint64_t>(b, 0, header.size());
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}

Expected<SafetensorsReader> parse_st(const std::string& header, size_t data_bytes) {
  return SafetensorsReader::open_memory(safetensors_image(header, data_bytes), "corrupt.safetensors");
}

TEST(SafetensorsCorruption, HeaderLengthPastTheEnd) {
  Bytes b = sample_safetensors().serialize();
  poke<uint64_t>(b, 0, b.size());
  const std::string path = temp_path("long_header.safetensors");
  write_bytes(path, b);
  expect_error(SafetensorsReader::open(path), {path, "header length", "past the end of the file"});
  write_bytes(path, Bytes{1, 2, 3});
  expect_error(SafetensorsReader::open(path), {path, "truncated", "3 bytes"});
}

TEST(SafetensorsCorruption, BadJson) {
  expect_error(parse_st("{\"a\": [1, 2", 0), {"corrupt.safetensors", "invalid JSON header"});
  expect_error(parse_st("[1, 2]", 0), {"corrupt.safetensors", "expected an object"});
  expect_error(parse_st(std::string(50, '[') + std::string(50, ']'), 0), {"corrupt.safetensors", "nested deeper"});
  expect_error(parse_st(R"({"__metadata__": {"k": 1}})", 0), {"corrupt.safetensors", "__metadata__", "'k'"});
  expect_error(parse_st(R"({"t": 5})", 0), {"corrupt.safetensors", "tensor 't'", "expected an object"});
  expect_error(parse_st(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", 4), {"tensor 't'", "\"dtype\""});
  expect_error(parse_st(R"({"t": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 4]}})", 4),
               {"tensor 't'", "unknown dtype \"Q4\""});
  expect_error(parse_st(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
               {"tensor 't'", "\"shape\"", "non-negative"});
  expect_error(parse_st(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4),
               {"tensor 't'", "\"data_offsets\"", "expected 2"});
}

TEST(SafetensorsCorruption, OffsetsThatDoNotMatchTheData) {
  // Offsets that disagree with shape x dtype size.
  const std::string wrong_size = R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 10]}})";
  const std::string path = temp_path("wrong_offsets.safetensors");
  write_bytes(path, safetensors_image(wrong_size, 10));
  expect_error(SafetensorsReader::open(path), {path, "tensor 'w'", "span 10 bytes", "[2, 3] of F32 needs 24"});
  // Past the end of the data buffer.
  expect_error(parse_st(R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})", 20),
               {"tensor 'w'", "past the end", "holds 20 bytes"});
  expect_error(parse_st(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8),
               {"tensor 'w'", "end before they begin"});
  // Overlap, hole and trailing bytes.
  expect_error(parse_st(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12),
               {"'a'", "'b'", "overlap"});
  expect_error(parse_st(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                           "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})", 12),
               {"bytes 4..8", "belong to no tensor"});
  expect_error(parse_st(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 12),
               {"bytes 4..12", "belong to no tensor"});
  expect_error(parse_st(R"({"a": {"dtype": "F64", "shape": [2147483648, 2147483648], "data_offsets": [0, 4]}})", 4),
               {"tensor 'a'", "needs more than 2^64"});
  expect_error(parse_st(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})", 4),
               {"tensor 'a'", "more elements than int64"});
}

TEST(SafetensorsCorruption, NonFloatTensorsViewButDoNotConvert) {
  auto r = parse_st(R"({"ids": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}})", 16);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tensor("ids")->n_bytes, 16u);
  expect_error(r->to_f32("ids"), {"corrupt.safetensors", "'ids'", "I64"});
}

// ------------------------------------------------------------- fuzz seeds

const fs::path kCorpus = fs::path(GRAPHC_SOURCE_DIR) / "tests/fuzz/corpus";

std::map<std::string, Bytes> gguf_seeds() {
  std::map<std::string, Bytes> seeds;
  seeds["valid_small"] = small_gguf();
  {
    GgufWriter w;
    w.set_string("general.architecture", "gemma3");
    w.set_u32("gemma3.block_count", 1);
    w.set_string_array("tokenizer.ggml.tokens", {"<pad>", "<eos>", "<bos>"});
    w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0});
    w.set_i32_array("tokenizer.ggml.token_type", {3, 3, 3});
    Bytes q5_0(22, 0x5A), q6_k(210, 0x3C);
    put_u16(q5_0, 0, h(0.5f));
    put_u16(q6_k, 208, h(0.01f));
    EXPECT_TRUE(w.add_raw_tensor("blk.0.attn_q.weight", GgmlType::Q5_0, {32}, q5_0).ok());
    EXPECT_TRUE(w.add_raw_tensor("blk.0.ffn_down.weight", GgmlType::Q4_K, {256}, q4_k_block()).ok());
    EXPECT_TRUE(w.add_raw_tensor("blk.0.ffn_up.weight", GgmlType::Q6_K, {256}, q6_k).ok());
    seeds["valid_quant_types"] = w.serialize();
  }
  {
    GgufWriter w;
    EXPECT_TRUE(w.set_alignment(64).ok());
    w.set_value("v.u8", {uint8_t{1}});
    w.set_value("v.i16", {int16_t{-2}});
    w.set_value("v.u64", {uint64_t{3}});
    w.set_value("v.f64", {4.5});
    w.set_value("v.bools", {GgufArray{std::vector<bool>{true, false}}});
    w.set_bool("v.flag", false);
    EXPECT_TRUE(w.add_tensor("h", GgmlType::F16, {2, 2}, std::vector<float>{1, 2, 3, 4}).ok());
    EXPECT_TRUE(w.add_tensor("b", GgmlType::BF16, {3}, std::vector<float>{1, 2, 3}).ok());
    EXPECT_TRUE(w.add_tensor("scalar", GgmlType::F32, {}, std::vector<float>{7}).ok());
    seeds["valid_aligned_scalars"] = w.serialize();
  }
  return seeds;
}

std::map<std::string, Bytes> safetensors_seeds() {
  std::map<std::string, Bytes> seeds;
  seeds["valid_small"] = sample_safetensors().serialize();
  seeds["valid_empty"] = SafetensorsWriter().serialize();
  seeds["valid_int_dtypes"] = safetensors_image(
      R"({"i": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]},)"
      R"( "m": {"dtype": "BOOL", "shape": [2, 2], "data_offsets": [8, 12]}})",
      12);
  return seeds;
}

// Set GRAPHC_WRITE_FUZZ_SEEDS=1 to regenerate tests/fuzz/corpus/ from the
// writers; otherwise the committed seeds must still be valid files.
TEST(FuzzSeeds, CommittedSeedsAreValidFiles) {
  const bool regenerate = std::getenv("GRAPHC_WRITE_FUZZ_SEEDS") != nullptr;
  const std::pair<const char*, std::map<std::string, Bytes>> sets[] = {{"gguf", gguf_seeds()},
                                                                       {"safetensors", safetensors_seeds()}};
  for (const auto& [dir, seeds] : sets) {
    for (const auto& [name, bytes] : seeds) {
      const fs::path path = kCorpus / dir / name;
      EXPECT_LT(bytes.size(), 4096u) << path;
      if (regenerate) {
        ASSERT_TRUE(write_file_atomically(path.string(), bytes).ok()) << path;
      }
      if (!fs::exists(path)) GTEST_SKIP() << path << " missing; run with GRAPHC_WRITE_FUZZ_SEEDS=1";
      if (std::string(dir) == "gguf") {
        auto r = GgufReader::open(path.string());
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
      } else {
        auto r = SafetensorsReader::open(path.string());
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
      }
    }
  }
}

// ------------------------------------------------- the real Gemma-3 270M GGUF

const std::string kGemma270m = graphc::test_support::gemma3_270m_gguf().string();

class Gemma270mGguf : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kGemma270m)) return;
    auto r = GgufReader::open(kGemma270m);
    if (!r.ok()) {
      error_ = r.error().message;
      return;
    }
    reader_ = new GgufReader(std::move(r).value());
  }
  static void TearDownTestSuite() {
    delete reader_;
    reader_ = nullptr;
  }
  void SetUp() override {
    if (!fs::exists(kGemma270m)) GTEST_SKIP() << kGemma270m << " not present (scripts/fetch-weights.sh)";
    ASSERT_NE(reader_, nullptr) << error_;
  }
  static const GgufReader& r() { return *reader_; }

  static inline GgufReader* reader_ = nullptr;
  static inline std::string error_;
};

TEST_F(Gemma270mGguf, HeaderAndMetadata) {
  EXPECT_EQ(r().version(), 3u);
  EXPECT_EQ(r().get_string("general.architecture"), "gemma3");
  EXPECT_EQ(r().get_u32("gemma3.block_count"), 18u);
  EXPECT_EQ(r().get_u32("gemma3.embedding_length"), 640u);
  EXPECT_EQ(r().get_u32("gemma3.feed_forward_length"), 2048u);
  EXPECT_EQ(r().get_u32("gemma3.attention.head_count"), 4u);
  EXPECT_EQ(r().get_u32("gemma3.attention.head_count_kv"), 1u);
  EXPECT_EQ(r().get_u32("gemma3.attention.sliding_window"), 512u);
  EXPECT_EQ(r().get_u32("general.file_type"), 15u);  // MOSTLY_Q4_K_M
  const auto tokens = r().get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(tokens->size(), 262144u);
  EXPECT_EQ(r().get_f32_array("tokenizer.ggml.scores")->size(), tokens->size());
  EXPECT_EQ(r().get_i32_array("tokenizer.ggml.token_type")->size(), tokens->size());
}

TEST_F(Gemma270mGguf, TensorInventoryMatchesTheQ4_K_MRecipe) {
  ASSERT_EQ(r().tensors().size(), 13u * 18 + 2);
  std::map<GgmlType, int> counts;
  uint64_t bytes = 0;
  for (const auto& t : r().tensors()) {
    ++counts[t.type];
    bytes += t.n_bytes;
  }
  const std::map<GgmlType, int> expected = {{GgmlType::F32, 109}, {GgmlType::Q5_0, 81}, {GgmlType::Q8_0, 10},
                                            {GgmlType::Q4_K, 27}, {GgmlType::Q6_K, 9}};
  EXPECT_EQ(counts, expected);
  EXPECT_EQ(bytes, 246587904u);  // gemma3.md §4.3
  EXPECT_EQ(r().tensor("token_embd.weight")->shape, (std::vector<int64_t>{262144, 640}));
  EXPECT_EQ(r().tensor("token_embd.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(r().tensor("blk.0.attn_q.weight")->shape, (std::vector<int64_t>{1024, 640}));
  EXPECT_EQ(r().tensor("blk.0.attn_output.weight")->shape, (std::vector<int64_t>{640, 1024}));
  EXPECT_EQ(r().tensor("blk.0.ffn_down.weight")->type, GgmlType::Q6_K);  // use_more_bits layer
  EXPECT_EQ(r().tensor("blk.2.ffn_down.weight")->type, GgmlType::Q4_K);
  EXPECT_EQ(r().tensor("blk.2.attn_v.weight")->type, GgmlType::Q5_0);
  EXPECT_EQ(r().tensor("blk.0.attn_v.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(r().find_tensor("output.weight"), nullptr);  // tied to token_embd
}

struct Summary {
  double mean = 0, max_abs = 0;
  bool finite = true;
};
Summary summarize(const std::vector<float>& v) {
  Summary s;
  for (float x : v) {
    s.finite = s.finite && std::isfinite(x);
    s.mean += x;
    s.max_abs = std::max(s.max_abs, static_cast<double>(std::fabs(x)));
  }
  s.mean /= std::max<size_t>(v.size(), 1);
  return s;
}

TEST_F(Gemma270mGguf, NormWeightsAreFiniteAndCarryThePlusOne) {
  int norms = 0;
  for (const auto& t : r().tensors()) {
    if (t.type != GgmlType::F32) continue;
    ++norms;
    const Summary s = summarize(r().dequantize_tensor(t.name).value());
    EXPECT_TRUE(s.finite) << t.name;
    // The converter stores 1 + w for Gemma's RMSNorm, so no norm averages
    // near zero or negative.
    EXPECT_GT(s.mean, 0.2) << t.name;
    EXPECT_LT(s.max_abs, 1e4) << t.name;  // the late post-FFW norms reach ~1.7e3
  }
  EXPECT_EQ(norms, 109);
}

TEST_F(Gemma270mGguf, QuantizedWeightsDequantizeToSaneValues) {
  // Layers 0 and 2 between them hold every quantized type of the file.
  for (const auto& t : r().tensors()) {
    if (t.type == GgmlType::F32 || (t.name.rfind("blk.0.", 0) != 0 && t.name.rfind("blk.2.", 0) != 0)) continue;
    const Summary s = summarize(r().dequantize_tensor(t.name).value());
    EXPECT_TRUE(s.finite) << t.name;
    EXPECT_GT(s.max_abs, 1e-3) << t.name << " is all zeros";
    EXPECT_LT(s.max_abs, 100.0) << t.name;
    EXPECT_LT(std::fabs(s.mean), 0.1) << t.name;
  }
  for (int64_t row : {int64_t{0}, int64_t{2}, int64_t{1000}, int64_t{262143}}) {
    const auto emb = r().dequantize_rows("token_embd.weight", row, 1).value();
    ASSERT_EQ(emb.size(), 640u);
    const Summary s = summarize(emb);
    EXPECT_TRUE(s.finite) << "token " << row;
    EXPECT_LT(s.max_abs, 10.0) << "token " << row;
  }
}

}  // namespace
}  // namespace graphc
