// The training-data pipeline: packing and the next-token shift, the
// held-out split, the seeded order and the resume property of data
// positions, strfile splitting, UTF-8 checks and errors naming the path.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "runtime/text_corpus.h"
#include "tests/test_temp_dir.h"

namespace graphc {
namespace {

// 10 documents of 7 ids each: with <bos>/<eos>, a stream of 90 tokens.
std::vector<std::vector<int32_t>> documents() {
  std::vector<std::vector<int32_t>> docs;
  for (int d = 0; d < 10; ++d) {
    std::vector<int32_t> doc;
    for (int i = 0; i < 7; ++i) doc.push_back(100 + d * 10 + i);
    docs.push_back(doc);
  }
  return docs;
}

TextCorpus corpus(uint64_t seed, double heldout = 0.25) {
  TextCorpusOptions o;
  o.seq_len = 4;  // windows of 5 tokens: 18 of them, none ragged
  o.heldout_fraction = heldout;
  o.seed = seed;
  return TextCorpus::from_documents(documents(), 2, 1, o);
}

TEST(TextCorpus, PacksWindowsOfSeqLenPlusOneAndDropsTheTail) {
  TextCorpusOptions o;
  o.seq_len = 6;  // windows of 7: 90 / 7 = 12, 6 tokens dropped
  o.heldout_fraction = 0;
  TextCorpus c = TextCorpus::from_documents(documents(), 2, 1, o);
  ASSERT_EQ(c.train_sequences(), 12);
  EXPECT_EQ(c.stats().tokens, 90);
  EXPECT_EQ(c.train(0), (std::vector<int32_t>{2, 100, 101, 102, 103, 104, 105}));
  EXPECT_EQ(c.train(1), (std::vector<int32_t>{106, 1, 2, 110, 111, 112, 113}));
}

TEST(TextCorpus, HeldOutSetIsFixedByTheDataNotTheSeed) {
  TextCorpus a = corpus(1), b = corpus(2);
  ASSERT_EQ(a.heldout_sequences(), 4);  // windows 3, 7, 11, 15 of 18
  ASSERT_EQ(a.train_sequences(), 14);
  for (int64_t i = 0; i < a.heldout_sequences(); ++i) EXPECT_EQ(a.heldout(i), b.heldout(i));
  std::set<std::vector<int32_t>> train;
  for (int64_t i = 0; i < a.train_sequences(); ++i) train.insert(a.train(i));
  for (int64_t i = 0; i < a.heldout_sequences(); ++i) EXPECT_FALSE(train.count(a.heldout(i)));
}

TEST(TextCorpus, EachEpochIsAPermutationThatTheSeedChooses) {
  TextCorpus a = corpus(7), same = corpus(7), other = corpus(8);
  const int64_t n = a.train_sequences();
  std::vector<int64_t> first, second, third;
  for (int64_t p = 0; p < n; ++p) first.push_back(a.train_index(p));
  for (int64_t p = n; p < 2 * n; ++p) second.push_back(a.train_index(p));
  for (int64_t p = 0; p < n; ++p) third.push_back(other.train_index(p));
  for (auto* order : {&first, &second, &third}) {
    std::set<int64_t> seen(order->begin(), order->end());
    EXPECT_EQ(int64_t(seen.size()), n);  // every window exactly once
  }
  EXPECT_NE(first, second);  // epochs differ
  EXPECT_NE(first, third);   // seeds differ
  for (int64_t p = 0; p < 2 * n; ++p) EXPECT_EQ(same.train_index(p), a.train_index(p));
}

// What resuming relies on: the batches from position p do not depend on how
// the run got there.
TEST(TextCorpus, BatchAtAPositionEqualsConsumingBatchesFromZero) {
  TextCorpus a = corpus(3);
  std::vector<std::vector<int32_t>> stream;
  for (int64_t p = 0; p < 40; p += 4)
    for (auto& s : a.batch(p, 4)) stream.push_back(s);
  TextCorpus fresh = corpus(3);
  const auto from_middle = fresh.batch(22, 6);  // crosses from epoch 1 into epoch 2 at 28
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(from_middle[i], stream[22 + i]) << i;
}

TEST(TextCorpus, StrfileEntriesAreDocuments) {
  EXPECT_EQ(split_documents("one\nline\n%\ntwo\n%\n"), (std::vector<std::string>{"one\nline\n", "two\n"}));
  EXPECT_EQ(split_documents("plain text\n100%\n"), (std::vector<std::string>{"plain text\n100%\n"}));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9"));
  EXPECT_FALSE(is_valid_utf8("caf\xc3"));
  EXPECT_FALSE(is_valid_utf8(std::string("a\0b", 3)));
}

TEST(TextCorpus, MissingPathIsNamed) {
  auto tok = Tokenizer::from_vocab({"<pad>", "<eos>", "<bos>", "<unk>", "a"}, {0, 0, 0, 0, -1}, {3, 3, 3, 2, 1});
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto c = TextCorpus::load("/nonexistent/corpus.txt", *tok, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/nonexistent/corpus.txt: no such file"), std::string::npos) << c.error().message;
}

TEST(TextCorpus, TooLittleTextIsNamed) {
  const auto dir = test_support::scratch_dir("graphc-text-corpus-");
  const std::string file = (dir / "short.txt").string();
  std::ofstream(file) << "a a a";
  auto tok = Tokenizer::from_vocab({"<pad>", "<eos>", "<bos>", "<unk>", "a", "\xe2\x96\x81"}, {0, 0, 0, 0, -1, -2},
                                   {3, 3, 3, 2, 1, 1});
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  TextCorpusOptions o;
  o.seq_len = 256;
  auto c = TextCorpus::load(file, *tok, o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find(file + ": "), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("no training sequence"), std::string::npos) << c.error().message;
}

const bool kCleanup = test_support::remove_scratch_dir_at_exit("graphc-text-corpus-");

}  // namespace
}  // namespace graphc
