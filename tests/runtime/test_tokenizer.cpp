// Tokenizer: a SentencePiece BPE model rebuilt from a vocabulary, encode and
// decode with byte fallback, the literal chat markers, and Gemma's chat
// template. The GemmaGguf tests read the vocabulary of the real Gemma-3 270M
// GGUF and skip themselves when scripts/fetch-weights.sh has not been run.
#include <gtest/gtest.h>

#include "runtime/gemma3_checkpoint.h"
#include "tests/test_models.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "runtime/gguf_reader.h"
#include "runtime/tokenizer.h"

namespace graphc {
namespace {

// A vocabulary laid out like Gemma's: control pieces first (<unk> stored as
// CONTROL, as GGUF does), the turn markers, 256 byte pieces, then BPE pieces
// whose scores give the merge order (higher merges first).
struct TinyVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;

  int32_t add(std::string piece, float score, TokenType type) {
    pieces.push_back(std::move(piece));
    scores.push_back(score);
    types.push_back(static_cast<int32_t>(type));
    return static_cast<int32_t>(pieces.size() - 1);
  }
  int32_t id(const std::string& piece) const {
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (pieces[i] == piece) return static_cast<int32_t>(i);
    }
    ADD_FAILURE() << "no piece " << piece;
    return -1;
  }
};

constexpr int32_t kFirstByte = 6;
int32_t byte_id(unsigned char b) { return kFirstByte + b; }

TinyVocab tiny_vocab() {
  TinyVocab v;
  for (const char* p : {"<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"}) {
    v.add(p, -1000.0f, TokenType::control);
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v.add(name, 0.0f, TokenType::byte);
  }
  const char* merges[] = {"he", "ll", "llo", "hello", "▁w", "or", "▁wor", "ld", "▁world"};
  float score = -1.0f;
  for (const char* m : merges) v.add(m, score--, TokenType::normal);
  for (const char* c : {"h", "e", "l", "o", "w", "r", "d", "u", "s", "i", "▁"}) v.add(c, -100.0f, TokenType::normal);
  // Gemma stores its whitespace-run pieces with real spaces, typed USER_DEFINED.
  v.add("  ", -1000.0f, TokenType::user_defined);
  v.add("   ", -1000.0f, TokenType::user_defined);
  // A filler row of a padded embedding table, as some converters append.
  v.add("<image_soft_token>", -1000.0f, TokenType::user_defined);
  return v;
}

Tokenizer tiny_tokenizer() {
  TinyVocab v = tiny_vocab();
  Expected<Tokenizer> tok = Tokenizer::from_vocab(v.pieces, v.scores, v.types);
  if (!tok) throw GraphcError(tok.error().message);
  return std::move(tok).take();
}

TEST(Tokenizer, SpecialIds) {
  Tokenizer tok = tiny_tokenizer();
  EXPECT_EQ(tok.vocab_size(), static_cast<int32_t>(tiny_vocab().pieces.size()));
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 3);
  EXPECT_EQ(tok.start_of_turn_id(), 4);
  EXPECT_EQ(tok.end_of_turn_id(), 5);
  EXPECT_TRUE(tok.is_end_of_generation(1));
  EXPECT_TRUE(tok.is_end_of_generation(5));
  EXPECT_FALSE(tok.is_end_of_generation(2));
  EXPECT_FALSE(tok.is_end_of_generation(4));
  EXPECT_EQ(tok.piece(byte_id('\n')), "<0x0A>");
  EXPECT_EQ(tok.piece(tok.end_of_turn_id()), "<end_of_turn>");
}

TEST(Tokenizer, BpeMergesFollowScores) {
  TinyVocab v = tiny_vocab();
  Tokenizer tok = tiny_tokenizer();
  EXPECT_EQ(tok.encode("hello world", false), (std::vector<int32_t>{v.id("hello"), v.id("▁world")}));
  // No dummy prefix: a word at the start of the text has no leading "▁".
  EXPECT_EQ(tok.encode("world", false), (std::vector<int32_t>{v.id("w"), v.id("or"), v.id("ld")}));
  EXPECT_EQ(tok.encode(" world", false), (std::vector<int32_t>{v.id("▁world")}));
}

TEST(Tokenizer, RoundTrips) {
  Tokenizer tok = tiny_tokenizer();
  for (const char* text : {"hello world", " hello  world ", "world\nhello", "", "hello\tworld\n\n"}) {
    EXPECT_EQ(tok.decode(tok.encode(text, false)), text) << text;
  }
}

TEST(Tokenizer, ByteFallbackForUnseenCharacters) {
  TinyVocab v = tiny_vocab();
  Tokenizer tok = tiny_tokenizer();
  // "é" is C3 A9 in UTF-8, "€" is E2 82 AC; neither is a piece.
  EXPECT_EQ(tok.encode("hello é", false),
            (std::vector<int32_t>{v.id("hello"), v.id("▁"), byte_id(0xC3), byte_id(0xA9)}));
  EXPECT_EQ(tok.encode("\n", false), (std::vector<int32_t>{byte_id(0x0A)}));
  const std::string text = "€ hello 世界\n";
  EXPECT_EQ(tok.decode(tok.encode(text, false)), text);
  for (int32_t id : tok.encode("€", false)) EXPECT_EQ(tok.piece(id).substr(0, 3), "<0x");
}

TEST(Tokenizer, BosHandling) {
  TinyVocab v = tiny_vocab();
  Tokenizer tok = tiny_tokenizer();
  EXPECT_EQ(tok.encode("hello", true), (std::vector<int32_t>{2, v.id("hello")}));
  EXPECT_EQ(tok.encode("", true), (std::vector<int32_t>{2}));
  EXPECT_TRUE(tok.encode("", false).empty());
  // Control pieces decode to nothing.
  EXPECT_EQ(tok.decode(std::vector<int32_t>{2, v.id("hello"), 1}), "hello");
}

TEST(Tokenizer, LiteralMarkersBecomeTheirIds) {
  TinyVocab v = tiny_vocab();
  Tokenizer tok = tiny_tokenizer();
  const std::vector<int32_t> ids = tok.encode("<bos><start_of_turn>user\nhello<end_of_turn>\n", false);
  const std::vector<int32_t> want = {2, 4, v.id("u"), v.id("s"), v.id("e"), v.id("r"), byte_id('\n'),
                                     v.id("hello"), 5, byte_id('\n')};
  EXPECT_EQ(ids, want);
  // Turn markers are text a model writes, so they decode literally.
  EXPECT_EQ(tok.decode(std::vector<int32_t>{4, v.id("hello"), 5}), "<start_of_turn>hello<end_of_turn>");
  // A marker glued to other text still splits out.
  EXPECT_EQ(tok.encode("hello<bos>hello", false), (std::vector<int32_t>{v.id("hello"), 2, v.id("hello")}));
}

TEST(Tokenizer, RunsOfSpacesUseTheWhitespacePieces) {
  TinyVocab v = tiny_vocab();
  Tokenizer tok = tiny_tokenizer();
  const int32_t two = v.id("  "), three = v.id("   ");
  EXPECT_EQ(tok.encode("hello  world", false), (std::vector<int32_t>{v.id("hello"), two, v.id("w"), v.id("or"),
                                                                      v.id("ld")}));
  // Longest run first, then the rest, as llama.cpp partitions them.
  EXPECT_EQ(tok.encode("hello     world", false), (std::vector<int32_t>{v.id("hello"), three, two, v.id("w"),
                                                                         v.id("or"), v.id("ld")}));
  EXPECT_EQ(tok.decode(std::vector<int32_t>{two, three}), "     ");
}

TEST(Tokenizer, FillerPiecesAreNeverProduced) {
  TinyVocab v = tiny_vocab();
  Tokenizer tok = tiny_tokenizer();
  const std::vector<int32_t> ids = tok.encode("<image_soft_token>", false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), v.id("<image_soft_token>")), 0);
  EXPECT_EQ(tok.decode(ids), "<image_soft_token>");
}

TEST(Tokenizer, EosStoredAsEndOfTurn) {
  // Some instruction-tuned conversions store eos_token_id = <end_of_turn>;
  // generation must still stop on <eos> too.
  TinyVocab v = tiny_vocab();
  Expected<Tokenizer> tok = Tokenizer::from_vocab(v.pieces, v.scores, v.types, {.eos = 5});
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->eos_id(), 5);
  EXPECT_TRUE(tok->is_end_of_generation(1));
  EXPECT_TRUE(tok->is_end_of_generation(5));
  EXPECT_EQ(tok->encode("hello<end_of_turn>", false), (std::vector<int32_t>{v.id("hello"), 5}));
}

TEST(Tokenizer, OutOfRangeIdsThrow) {
  Tokenizer tok = tiny_tokenizer();
  EXPECT_THROW(tok.piece(-1), GraphcError);
  EXPECT_THROW(tok.piece(tok.vocab_size()), GraphcError);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{tok.vocab_size()}), GraphcError);
}

TEST(Tokenizer, RejectsBadVocabularies) {
  TinyVocab v = tiny_vocab();
  std::vector<float> short_scores(v.scores.begin(), v.scores.end() - 1);
  EXPECT_FALSE(Tokenizer::from_vocab(v.pieces, short_scores, v.types).ok());
  std::vector<int32_t> bad_types = v.types;
  bad_types[10] = 9;
  Expected<Tokenizer> bad = Tokenizer::from_vocab(v.pieces, v.scores, bad_types);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown type 9"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(Tokenizer::from_vocab(v.pieces, v.scores, v.types, {.bos = 100000}).ok());
  std::vector<std::string> dup = v.pieces;
  dup.back() = "hello";
  EXPECT_FALSE(Tokenizer::from_vocab(dup, v.scores, v.types).ok());
}

TEST(Tokenizer, ModelFileRoundTrip) {
  TinyVocab v = tiny_vocab();
  Expected<std::string> proto = Tokenizer::model_proto_from_vocab(v.pieces, v.scores, v.types);
  ASSERT_TRUE(proto.ok()) << proto.error().message;
  const auto path = std::filesystem::temp_directory_path() / "graphc_test_tokenizer.model";
  std::ofstream(path, std::ios::binary) << *proto;
  Expected<Tokenizer> tok = Tokenizer::from_model_file(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->eos_id(), 1);
  EXPECT_EQ(tok->pad_id(), 0);
  EXPECT_EQ(tok->unk_id(), 3);
  EXPECT_EQ(tok->encode("hello world", true), tiny_tokenizer().encode("hello world", true));
  EXPECT_FALSE(Tokenizer::from_model_file("/nonexistent/tokenizer.model").ok());
}

// ---- chat template --------------------------------------------------------

std::string render(const std::vector<ChatMessage>& messages, bool generation_prompt = true) {
  Expected<std::string> text = Tokenizer::render_chat(messages, generation_prompt);
  if (!text) throw GraphcError(text.error().message);
  return *text;
}

TEST(ChatTemplate, SingleTurn) {
  EXPECT_EQ(render({{"user", "  Hi there!\n"}}),
            "<bos><start_of_turn>user\nHi there!<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(render({{"user", "Hi"}}, false), "<bos><start_of_turn>user\nHi<end_of_turn>\n");
}

TEST(ChatTemplate, SystemIsPrependedToFirstUserTurn) {
  EXPECT_EQ(render({{"system", "Be brief."}, {"user", "Hi"}}),
            "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatTemplate, MultiTurn) {
  const std::string want =
      "<bos><start_of_turn>user\nYou are terse.\n\nHello<end_of_turn>\n"
      "<start_of_turn>model\nHi.<end_of_turn>\n"
      "<start_of_turn>user\nWhy?<end_of_turn>\n"
      "<start_of_turn>model\n";
  EXPECT_EQ(render({{"system", "You are terse."}, {"user", "Hello"}, {"assistant", " Hi.\n"}, {"user", "Why?"}}),
            want);
  // "model" is accepted as a synonym of "assistant".
  EXPECT_EQ(render({{"system", "You are terse."}, {"user", "Hello"}, {"model", "Hi."}, {"user", "Why?"}}), want);
}

TEST(ChatTemplate, RolesMustAlternate) {
  EXPECT_FALSE(Tokenizer::render_chat({{"assistant", "Hi"}}).ok());
  EXPECT_FALSE(Tokenizer::render_chat({{"user", "a"}, {"user", "b"}}).ok());
  EXPECT_FALSE(Tokenizer::render_chat({{"user", "a"}, {"model", "b"}, {"model", "c"}}).ok());
  EXPECT_FALSE(Tokenizer::render_chat({{"user", "a"}, {"system", "b"}}).ok());
  EXPECT_FALSE(Tokenizer::render_chat({{"user", "a"}, {"tool", "b"}}).ok());
  EXPECT_FALSE(Tokenizer::render_chat({}).ok());
  EXPECT_FALSE(Tokenizer::render_chat({{"system", "only"}}).ok());
  Expected<std::string> bad = Tokenizer::render_chat({{"user", "a"}, {"user", "b"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("alternate"), std::string::npos) << bad.error().message;
}

TEST(ChatTemplate, RenderedChatEncodesWithOneBos) {
  Tokenizer tok = tiny_tokenizer();
  const std::vector<int32_t> ids = tok.encode(render({{"user", "hello"}}), /*add_bos=*/false);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], tok.bos_id());
  EXPECT_EQ(ids[1], tok.start_of_turn_id());
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok.bos_id()), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok.end_of_turn_id()), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok.start_of_turn_id()), 2);
}


// ---- the real Gemma-3 270M vocabulary --------------------------------------

std::filesystem::path gemma_gguf_path() { return graphc::test_support::gemma3_270m_gguf(); }

class GemmaGguf : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(gemma_gguf_path())) {
      GTEST_SKIP() << gemma_gguf_path() << " is absent; scripts/fetch-weights.sh fetches it";
    }
    Expected<GgufReader> gguf = GgufReader::open(gemma_gguf_path().string());
    ASSERT_TRUE(gguf.ok()) << gguf.error().message;
    Expected<Tokenizer> tok = tokenizer_from_gguf(*gguf);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    tok_.emplace(std::move(tok).take());
  }
  const Tokenizer& tok() const { return *tok_; }

 private:
  std::optional<Tokenizer> tok_;
};

TEST_F(GemmaGguf, SpecialIds) {
  EXPECT_EQ(tok().vocab_size(), 262144);
  EXPECT_EQ(tok().pad_id(), 0);
  EXPECT_EQ(tok().eos_id(), 1);
  EXPECT_EQ(tok().bos_id(), 2);
  EXPECT_EQ(tok().unk_id(), 3);
  EXPECT_EQ(tok().start_of_turn_id(), 105);
  EXPECT_EQ(tok().end_of_turn_id(), 106);
  EXPECT_EQ(tok().piece(248), "<0x0A>");
  EXPECT_EQ(tok().piece(105), "<start_of_turn>");
  EXPECT_TRUE(tok().is_end_of_generation(1));
  EXPECT_TRUE(tok().is_end_of_generation(106));
  EXPECT_FALSE(tok().is_end_of_generation(2));
}

// Expected ids from Hugging Face `tokenizers` 0.23.3, with the tokenizer that
// transformers 5.23.0 builds from this same GGUF's vocabulary
// (integrations/gguf convert_gguf_tokenizer("gemma3", ...)).
TEST_F(GemmaGguf, EncodesLikeTheReference) {
  const std::vector<std::pair<std::string, std::vector<int32_t>>> cases = {
      {"Hello, world!", {9259, 236764, 1902, 236888}},
      {"The quick brown fox jumps over the lazy dog.", {818, 3823, 8864, 37423, 38167, 1024, 506, 31770, 4799, 236761}},
      {"def f(x):\n    return x * 2\n", {2063, 517, 236769, 236781, 1473, 107, 140, 2060, 1123, 808, 236743, 236778, 107}},
      {"if x:\n\treturn 1", {584, 1123, 236787, 107, 255968, 2060, 236743, 236770}},
      {"Größe 世界 🙂", {9322, 237001, 16756, 84679, 57235}},
      {" a  b\t\tc", {496, 138, 236763, 255969, 236755}},
      // U+0F8D is no piece: its UTF-8 bytes E0 BE 8D fall back to <0xE0> <0xBE> <0x8D>.
      {"\u0F8D", {462, 428, 379}},
      {"<start_of_turn>user\nWhy is the sky blue?<end_of_turn>\n<start_of_turn>model\n",
       {105, 2364, 107, 11355, 563, 506, 7217, 3730, 236881, 106, 107, 105, 4368, 107}},
  };
  for (const auto& [text, want] : cases) {
    EXPECT_EQ(tok().encode(text, false), want) << text;
    EXPECT_EQ(tok().decode(want), text) << text;
  }
  EXPECT_EQ(tok().encode("Hello", true), (std::vector<int32_t>{2, 9259}));
}

// Longer runs of spaces than the longest whitespace piece (31 spaces, id 167)
// take the longest piece first, as llama.cpp's partition of USER_DEFINED
// tokens does. (Hugging Face's GGUF conversion differs here: it rebuilds
// these pieces as BPE merges and splits 34 spaces as 16 + 18.)
TEST_F(GemmaGguf, LongSpaceRunsTakeTheLongestPieceFirst) {
  const std::string text = "x" + std::string(34, ' ') + "y";
  EXPECT_EQ(tok().encode(text, false), (std::vector<int32_t>{236781, 167, 139, 236762}));
  EXPECT_EQ(tok().decode(tok().encode(text, false)), text);
}

TEST_F(GemmaGguf, ChatPromptHasOneBos) {
  Expected<std::string> text = Tokenizer::render_chat({{"user", "Why is the sky blue?"}});
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(tok().encode(*text, /*add_bos=*/false),
            (std::vector<int32_t>{2, 105, 2364, 107, 11355, 563, 506, 7217, 3730, 236881, 106, 107, 105, 4368, 107}));
}

}  // namespace
}  // namespace graphc
