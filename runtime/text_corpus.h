// Training text: a file or a directory of files, tokenised, packed into
// fixed-length sequences, split into training and held-out sets, and served
// in a shuffled order that one number, the data position, determines.
//
//   documents   a file is a document; a file in fortune's strfile format
//               (entries separated by lines holding only "%") is one
//               document per entry. Files that are not UTF-8 text (e.g. the
//               .dat indexes next to fortune files) are skipped and counted.
//   packing     <bos> doc <eos> <bos> doc <eos> ... cut into consecutive
//               windows of seq_len + 1 tokens (inputs are the first seq_len,
//               targets the last seq_len); the ragged tail is dropped.
//   held out    every k-th window, k = round(1 / heldout_fraction): fixed by
//               the data, not by the seed, so evaluations of runs with other
//               seeds see the same text.
//   order       epoch e visits the training windows in a Fisher-Yates
//               permutation drawn from std::mt19937_64 seeded with
//               (seed, e): the engine's output is fixed by the C++ standard,
//               so the order is the same with any standard library.
//   position    the number of training windows consumed so far: batch(p, n)
//               is the same whether a run got to p in one go or was resumed
//               from a checkpoint that stored p.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/status.h"
#include "runtime/tokenizer.h"

namespace graphc {

struct TextCorpusOptions {
  int64_t seq_len = 256;
  double heldout_fraction = 0.05;  // 0: no held-out set
  uint64_t seed = 0;
};

struct TextCorpusStats {
  int64_t files = 0, skipped_files = 0, documents = 0, bytes = 0, tokens = 0;
  int64_t train_sequences = 0, heldout_sequences = 0;
  std::string summary() const;  // one line
};

class TextCorpus {
 public:
  // bytes done, bytes total
  using ProgressFn = std::function<void(int64_t, int64_t)>;

  static Expected<TextCorpus> load(const std::string& path, const Tokenizer& tokenizer,
                                   const TextCorpusOptions& options, const ProgressFn& progress = {});
  // Documents given as token ids (without <bos>/<eos>).
  static TextCorpus from_documents(const std::vector<std::vector<int32_t>>& documents, int32_t bos, int32_t eos,
                                   const TextCorpusOptions& options);

  int64_t train_sequences() const { return int64_t(train_.size()); }
  int64_t heldout_sequences() const { return int64_t(heldout_.size()); }
  // Each sequence holds seq_len + 1 tokens.
  const std::vector<int32_t>& heldout(int64_t i) const { return heldout_.at(i); }
  const std::vector<int32_t>& train(int64_t i) const { return train_.at(i); }
  // The training window served at data position p.
  int64_t train_index(int64_t position) const;
  // The `count` windows served from data position p on (crossing epochs).
  std::vector<std::vector<int32_t>> batch(int64_t position, int64_t count) const;
  const TextCorpusStats& stats() const { return stats_; }

 private:
  void pack(const std::vector<int32_t>& stream, const TextCorpusOptions& options);
  std::vector<std::vector<int32_t>> train_, heldout_;
  uint64_t seed_ = 0;
  TextCorpusStats stats_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> order_;
};

// Splits a file's text into documents (strfile entries, or the whole text).
std::vector<std::string> split_documents(const std::string& text);
bool is_valid_utf8(const std::string& text);

// The example experiment's corpus: the English fortune-cookie collection of
// Debian's "fortunes" package (about 2.6 MB of quotations, jokes and short
// prose under /usr/share/games/fortunes); scripts/install-deps.sh installs it.
inline constexpr const char* kDefaultCorpusPath = "/usr/share/games/fortunes";

}  // namespace graphc
