#include "runtime/text_corpus.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "runtime/human_bytes.h"

namespace graphc {

std::string TextCorpusStats::summary() const {
  return fmt::format("{} files ({} skipped), {} documents, {}, {} tokens: {} training and {} held-out sequences",
                     files, skipped_files, documents, human_bytes(bytes), tokens, train_sequences, heldout_sequences);
}

bool is_valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int extra = 0;
    if (c < 0x80) {
      if (c == 0) return false;  // NUL: binary data
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0 && c >= 0xC2) extra = 1;
    else if ((c & 0xF0) == 0xE0) extra = 2;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4) extra = 3;
    else return false;
    if (i + extra >= s.size()) return false;  // cut off
    for (int k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += extra + 1;
  }
  return true;
}

std::vector<std::string> split_documents(const std::string& text) {
  std::vector<std::string> docs;
  std::string current;
  bool strfile = false;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line == "%") {
      strfile = true;
      if (!current.empty()) docs.push_back(std::move(current));
      current.clear();
      continue;
    }
    current += line + "\n";
  }
  if (!strfile) return text.empty() ? std::vector<std::string>{} : std::vector<std::string>{text};
  if (!current.empty()) docs.push_back(std::move(current));
  return docs;
}

TextCorpus TextCorpus::from_documents(const std::vector<std::vector<int32_t>>& documents, int32_t bos, int32_t eos,
                                      const TextCorpusOptions& options) {
  std::vector<int32_t> stream;
  for (const auto& d : documents) {
    stream.push_back(bos);
    stream.insert(stream.end(), d.begin(), d.end());
    stream.push_back(eos);
  }
  TextCorpus c;
  c.stats_.documents = int64_t(documents.size());
  c.pack(stream, options);
  return c;
}

void TextCorpus::pack(const std::vector<int32_t>& stream, const TextCorpusOptions& o) {
  seed_ = o.seed;
  stats_.tokens = int64_t(stream.size());
  const int64_t window = o.seq_len + 1;
  const int64_t n = int64_t(stream.size()) / window;
  const int64_t k = o.heldout_fraction > 0 ? std::max<int64_t>(2, std::llround(1.0 / o.heldout_fraction)) : 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int32_t> w(stream.begin() + i * window, stream.begin() + (i + 1) * window);
    if (k > 0 && i % k == k - 1) heldout_.push_back(std::move(w));
    else train_.push_back(std::move(w));
  }
  // Too short for every k-th: still hold one out when there are two or more.
  if (k > 0 && heldout_.empty() && train_.size() >= 2) {
    heldout_.push_back(std::move(train_.back()));
    train_.pop_back();
  }
  stats_.train_sequences = int64_t(train_.size());
  stats_.heldout_sequences = int64_t(heldout_.size());
}

int64_t TextCorpus::train_index(int64_t position) const {
  const int64_t n = int64_t(train_.size());
  const int64_t epoch = position / n;
  if (epoch != cached_epoch_) {
    order_.resize(n);
    for (int64_t i = 0; i < n; ++i) order_[i] = i;
    // Fisher-Yates with the engine's raw output (modulo bias is below 2^-40
    // for any corpus that fits in memory).
    std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + uint64_t(epoch) + 1);
    for (int64_t i = n - 1; i > 0; --i) std::swap(order_[i], order_[int64_t(rng() % uint64_t(i + 1))]);
    cached_epoch_ = epoch;
  }
  return order_[position % n];
}

std::vector<std::vector<int32_t>> TextCorpus::batch(int64_t position, int64_t count) const {
  std::vector<std::vector<int32_t>> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(train_.at(train_index(position + i)));
  return out;
}

Expected<TextCorpus> TextCorpus::load(const std::string& path, const Tokenizer& tokenizer,
                                      const TextCorpusOptions& options, const ProgressFn& progress) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec))
    return Error{path == kDefaultCorpusPath
                     ? path + ": no such directory (the default corpus comes from Debian's fortunes package: "
                              "apt-get install fortunes, or run scripts/install-deps.sh)"
                     : path + ": no such file or directory"};
  std::vector<fs::path> files;
  const bool single = !fs::is_directory(path, ec);
  if (single) {
    files.push_back(path);
  } else {
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_regular_file()) files.push_back(it->path());
    if (ec) return Error{fmt::format("{}: cannot list the directory: {}", path, ec.message())};
    std::sort(files.begin(), files.end());
  }
  int64_t total = 0;
  for (const fs::path& f : files) total += int64_t(fs::file_size(f, ec));
  TextCorpus c;
  std::vector<int32_t> stream;
  int64_t done = 0;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return Error{f.string() + ": cannot read"};
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();
    done += int64_t(text.size());
    ++c.stats_.files;
    if (!is_valid_utf8(text)) {
      if (single) return Error{f.string() + ": not UTF-8 text"};
      ++c.stats_.skipped_files;
      continue;
    }
    c.stats_.bytes += int64_t(text.size());
    for (const std::string& doc : split_documents(text)) {
      stream.push_back(tokenizer.bos_id());
      std::vector<int32_t> ids = tokenizer.encode(doc, /*add_bos=*/false);
      stream.insert(stream.end(), ids.begin(), ids.end());
      stream.push_back(tokenizer.eos_id());
      ++c.stats_.documents;
    }
    if (progress) progress(done, total);
  }
  c.pack(stream, options);
  if (c.train_.empty())
    return Error{fmt::format("{}: {} tokens make no training sequence of seq_len + 1 = {} tokens", path,
                             c.stats_.tokens, options.seq_len + 1)};
  return c;
}

}  // namespace graphc
