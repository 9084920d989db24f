// Gemma-3's tokenizer: a SentencePiece BPE model with byte fallback, loaded
// either from a tokenizer.model file or rebuilt from the vocabulary a GGUF
// checkpoint embeds (tokenizer.ggml.tokens / scores / token_type), plus the
// Gemma chat template.
//
// The rebuilt model follows the reference's recipe (gemma3.md §5.4): BPE,
// byte_fallback, identity normalizer, no dummy prefix, " " written as U+2581,
// the piece at unk_id typed UNKNOWN (GGUF stores it as CONTROL), and
// <start_of_turn>/<end_of_turn> typed USER_DEFINED so that chat text
// containing them encodes to their ids as with the original model. One more
// repair the reference does not list: the whitespace-run pieces ("  " ...
// 31 spaces), stored with real spaces, are respelled with U+2581 so that runs
// of spaces encode to them (longest first), as llama.cpp does.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/status.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace graphc {

// SentencePiece's piece types. GGUF's tokenizer.ggml.token_type uses the same
// numbering, so its values can be passed through unchanged.
enum class TokenType : int32_t {
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

// Ids of the reserved pieces; the defaults are Gemma-3's (and what a Gemma
// GGUF stores in tokenizer.ggml.*_token_id).
struct SpecialTokenIds {
  int32_t pad = 0;
  int32_t eos = 1;
  int32_t bos = 2;
  int32_t unk = 3;
};

struct ChatMessage {
  std::string role;  // "system" (first message only), "user", "assistant" or "model"
  std::string content;
};

class Tokenizer {
 public:
  // Loads a serialized SentencePiece ModelProto (tokenizer.model).
  static Expected<Tokenizer> from_model_file(const std::string& path);

  // Rebuilds a SentencePiece model from a vocabulary in id order, e.g. the
  // one a GGUF file embeds. `types` uses TokenType's numbering.
  static Expected<Tokenizer> from_vocab(const std::vector<std::string>& pieces,
                                        const std::vector<float>& scores,
                                        const std::vector<int32_t>& types,
                                        const SpecialTokenIds& special = {});

  // The serialized ModelProto that from_vocab loads; writing it to a file
  // gives a tokenizer.model that other SentencePiece tools can read.
  static Expected<std::string> model_proto_from_vocab(const std::vector<std::string>& pieces,
                                                      const std::vector<float>& scores,
                                                      const std::vector<int32_t>& types,
                                                      const SpecialTokenIds& special = {});

  // Renders a conversation with Gemma's chat template. The result starts with
  // "<bos>", so encode it with add_bos = false. Errors when roles do not
  // alternate user/model (after an optional leading system message).
  static Expected<std::string> render_chat(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt = true);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Literal "<bos>", "<start_of_turn>" and "<end_of_turn>" in `text` become
  // their ids; everything else is tokenized by SentencePiece, with bytes of
  // unseen characters falling back to <0xXX> pieces.
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;

  // Control pieces (<bos>, <eos>, <pad>) decode to nothing, byte pieces are
  // joined back into UTF-8. Throws GraphcError on an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids) const;

  // The piece string of `id` ("▁the", "<0x0A>", "<end_of_turn>"; a run of
  // spaces reads "▁▁"). Throws GraphcError on an id outside the vocabulary.
  const std::string& piece(int32_t id) const;

  int32_t vocab_size() const { return vocab_size_; }
  int32_t bos_id() const { return special_.bos; }
  int32_t eos_id() const { return special_.eos; }
  int32_t pad_id() const { return special_.pad; }
  int32_t unk_id() const { return special_.unk; }
  int32_t start_of_turn_id() const { return start_of_turn_id_; }  // -1 if absent
  int32_t end_of_turn_id() const { return end_of_turn_id_; }      // -1 if absent

  // Generation stops on <eos> or on <end_of_turn> (instruction-tuned models
  // end their reply with the latter).
  bool is_end_of_generation(int32_t id) const;

 private:
  Tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp, SpecialTokenIds special);
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;
  int32_t find_piece(std::string_view piece) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  SpecialTokenIds special_;
  int32_t vocab_size_ = 0;
  int32_t start_of_turn_id_ = -1;
  int32_t end_of_turn_id_ = -1;
  int32_t eos_piece_id_ = -1;  // "<eos>", when eos is configured as another piece
  // Marker strings recognised in encode()'s input, with their ids.
  std::vector<std::pair<std::string, int32_t>> markers_;
};

}  // namespace graphc
