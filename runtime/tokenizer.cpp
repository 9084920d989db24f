#include "runtime/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <bit>
#include <fmt/format.h>

namespace graphc {
namespace {

constexpr std::string_view kStartOfTurn = "<start_of_turn>";
constexpr std::string_view kEndOfTurn = "<end_of_turn>";
constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581, how SentencePiece writes " "

// Just enough of the protobuf wire format to write a ModelProto. Debian's
// libsentencepiece-dev ships no sentencepiece_model.pb.h, and the message is
// small and stable, so we write its bytes ourselves.
class ProtoWriter {
 public:
  void uint_field(int field, uint64_t v) {
    tag(field, kVarint);
    varint(v);
  }
  // int32 is sign-extended to 64 bits on the wire: a negative id takes 10 bytes.
  void int32_field(int field, int32_t v) {
    uint_field(field, static_cast<uint64_t>(static_cast<int64_t>(v)));
  }
  void bool_field(int field, bool v) { uint_field(field, v ? 1 : 0); }
  void float_field(int field, float v) {
    tag(field, kFixed32);
    const auto bits = std::bit_cast<uint32_t>(v);
    for (int shift = 0; shift < 32; shift += 8) out_.push_back(static_cast<char>((bits >> shift) & 0xFF));
  }
  void bytes_field(int field, std::string_view bytes) {
    tag(field, kLengthDelimited);
    varint(bytes.size());
    out_.append(bytes);
  }
  const std::string& bytes() const { return out_; }

 private:
  static constexpr int kVarint = 0;
  static constexpr int kLengthDelimited = 2;
  static constexpr int kFixed32 = 5;

  void tag(int field, int wire_type) { varint((static_cast<uint64_t>(field) << 3) | wire_type); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }

  std::string out_;
};

// Field numbers from sentencepiece_model.proto.
namespace field {
constexpr int kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3;
constexpr int kPiece = 1, kScore = 2, kType = 3;
constexpr int kModelType = 3, kVocabSize = 4, kSplitByUnicodeScript = 21, kSplitByWhitespace = 22,
              kSplitByNumber = 23, kTreatWhitespaceAsSuffix = 24, kSplitDigits = 25,
              kAllowWhitespaceOnlyPieces = 26, kByteFallback = 35, kUnkId = 40, kBosId = 41,
              kEosId = 42, kPadId = 43, kUnkPiece = 45, kBosPiece = 46, kEosPiece = 47,
              kPadPiece = 48;
constexpr int kName = 1, kAddDummyPrefix = 3, kRemoveExtraWhitespaces = 4, kEscapeWhitespaces = 5;
}  // namespace field

constexpr int kModelTypeBpe = 2;

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Rows that some converters append after the real vocabulary so the table
// matches a padded embedding ("[PAD262144]", "<image_soft_token>"); text never
// maps to them.
bool is_filler_piece(std::string_view piece) {
  if (piece == "<image_soft_token>") return true;
  return piece.starts_with("[PAD") && piece.ends_with("]") && is_digits(piece.substr(4, piece.size() - 5));
}

// A GGUF spells the whitespace-run pieces (ids 138-167 in Gemma-3, typed
// USER_DEFINED) with real spaces, but SentencePiece matches pieces against
// text in which every space is already U+2581, so as stored they would never
// match. Spelled with U+2581 they match runs of spaces, longest first, which is
// how llama.cpp tokenizes them.
std::string fixed_piece(const std::string& piece) {
  if (piece.find_first_not_of(' ') != std::string::npos) return piece;
  std::string out;
  for (size_t i = 0; i < piece.size(); ++i) out += kSpaceSymbol;
  return out;
}

// The piece type SentencePiece needs, where it differs from the stored one
// (gemma3.md §5.4).
TokenType fixed_type(const std::string& piece, TokenType stored, int32_t id, const SpecialTokenIds& special) {
  // SentencePiece wants exactly one UNKNOWN piece, at unk_id; GGUF marks <unk> CONTROL.
  if (id == special.unk) return TokenType::unknown;
  if (stored == TokenType::unknown) return TokenType::control;
  // As USER_DEFINED pieces, literal turn markers in chat text encode to their
  // ids, which is how the original model treats them.
  if (piece == kStartOfTurn || piece == kEndOfTurn) return TokenType::user_defined;
  if (is_filler_piece(piece)) return TokenType::unused;
  return stored;
}

Status check_vocab(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                   const std::vector<int32_t>& types, const SpecialTokenIds& special) {
  if (pieces.empty()) return Error{"tokenizer vocabulary is empty"};
  if (scores.size() != pieces.size() || types.size() != pieces.size()) {
    return Error{fmt::format("tokenizer vocabulary has {} pieces but {} scores and {} types", pieces.size(),
                             scores.size(), types.size())};
  }
  if (pieces.size() > static_cast<size_t>(INT32_MAX)) return Error{"tokenizer vocabulary is too large"};
  const auto n = static_cast<int32_t>(pieces.size());
  for (auto [name, id] : {std::pair{"pad", special.pad}, {"eos", special.eos}, {"bos", special.bos},
                          {"unk", special.unk}}) {
    if (id < 0 || id >= n) return Error{fmt::format("{} id {} is outside the vocabulary of {} pieces", name, id, n)};
  }
  for (int32_t i = 0; i < n; ++i) {
    if (pieces[i].empty()) return Error{fmt::format("tokenizer piece {} is empty", i)};
    if (types[i] < static_cast<int32_t>(TokenType::normal) || types[i] > static_cast<int32_t>(TokenType::byte)) {
      return Error{fmt::format("tokenizer piece {} ('{}') has unknown type {}", i, pieces[i], types[i])};
    }
  }
  return Status::success();
}

std::string trainer_spec(const std::vector<std::string>& pieces, bool has_bytes, const SpecialTokenIds& special) {
  ProtoWriter w;
  w.uint_field(field::kModelType, kModelTypeBpe);
  w.int32_field(field::kVocabSize, static_cast<int32_t>(pieces.size()));
  // The split_* and whitespace flags only steer training; they are written so
  // the model describes how Gemma's vocabulary was made.
  w.bool_field(field::kSplitByUnicodeScript, true);
  w.bool_field(field::kSplitByWhitespace, true);
  w.bool_field(field::kSplitByNumber, true);
  w.bool_field(field::kTreatWhitespaceAsSuffix, false);
  w.bool_field(field::kSplitDigits, true);
  w.bool_field(field::kAllowWhitespaceOnlyPieces, true);
  // SentencePiece refuses BYTE pieces unless byte_fallback is on.
  w.bool_field(field::kByteFallback, has_bytes);
  w.int32_field(field::kUnkId, special.unk);
  w.int32_field(field::kBosId, special.bos);
  w.int32_field(field::kEosId, special.eos);
  w.int32_field(field::kPadId, special.pad);
  w.bytes_field(field::kUnkPiece, pieces[special.unk]);
  w.bytes_field(field::kBosPiece, pieces[special.bos]);
  w.bytes_field(field::kEosPiece, pieces[special.eos]);
  w.bytes_field(field::kPadPiece, pieces[special.pad]);
  return w.bytes();
}

// Only " " -> U+2581: no Unicode normalisation, no dummy prefix, whitespace
// kept as is. The proto2 defaults differ, so every field is explicit.
std::string normalizer_spec() {
  ProtoWriter w;
  w.bytes_field(field::kName, "identity");
  w.bool_field(field::kAddDummyPrefix, false);
  w.bool_field(field::kRemoveExtraWhitespaces, false);
  w.bool_field(field::kEscapeWhitespaces, true);
  return w.bytes();
}

std::string sentence_piece(const std::string& piece, float score, TokenType type) {
  ProtoWriter w;
  w.bytes_field(field::kPiece, piece);
  w.float_field(field::kScore, score);
  w.uint_field(field::kType, static_cast<uint64_t>(type));
  return w.bytes();
}

Error sp_error(std::string_view what, const sentencepiece::util::Status& status) {
  return Error{fmt::format("{}: {}", what, status.ToString())};
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

}  // namespace

Expected<std::string> Tokenizer::model_proto_from_vocab(const std::vector<std::string>& pieces,
                                                        const std::vector<float>& scores,
                                                        const std::vector<int32_t>& types,
                                                        const SpecialTokenIds& special) {
  if (Status st = check_vocab(pieces, scores, types, special); !st) return st.error();
  ProtoWriter model;
  bool has_bytes = false;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const TokenType type = fixed_type(pieces[i], static_cast<TokenType>(types[i]), static_cast<int32_t>(i), special);
    has_bytes |= type == TokenType::byte;
    model.bytes_field(field::kPieces, sentence_piece(fixed_piece(pieces[i]), scores[i], type));
  }
  model.bytes_field(field::kTrainerSpec, trainer_spec(pieces, has_bytes, special));
  model.bytes_field(field::kNormalizerSpec, normalizer_spec());
  return model.bytes();
}

Expected<Tokenizer> Tokenizer::from_vocab(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                                          const std::vector<int32_t>& types, const SpecialTokenIds& special) {
  Expected<std::string> proto = model_proto_from_vocab(pieces, scores, types, special);
  if (!proto) return proto.error();
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  if (auto st = sp->LoadFromSerializedProto(*proto); !st.ok()) {
    return sp_error("cannot build a SentencePiece model from the vocabulary", st);
  }
  return Tokenizer(std::move(sp), special);
}

Expected<Tokenizer> Tokenizer::from_model_file(const std::string& path) {
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  if (auto st = sp->Load(path); !st.ok()) return sp_error(fmt::format("{}: cannot load tokenizer", path), st);
  SpecialTokenIds special{.pad = sp->pad_id(), .eos = sp->eos_id(), .bos = sp->bos_id(), .unk = sp->unk_id()};
  if (special.bos < 0 || special.eos < 0) {
    return Error{fmt::format("{}: tokenizer defines no <bos>/<eos> control pieces", path)};
  }
  return Tokenizer(std::move(sp), special);
}

Tokenizer::Tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp, SpecialTokenIds special)
    : sp_(std::move(sp)), special_(special), vocab_size_(sp_->GetPieceSize()) {
  start_of_turn_id_ = find_piece(kStartOfTurn);
  end_of_turn_id_ = find_piece(kEndOfTurn);
  eos_piece_id_ = find_piece("<eos>");
  markers_.emplace_back(sp_->IdToPiece(special_.bos), special_.bos);
  if (start_of_turn_id_ >= 0) markers_.emplace_back(std::string(kStartOfTurn), start_of_turn_id_);
  if (end_of_turn_id_ >= 0) markers_.emplace_back(std::string(kEndOfTurn), end_of_turn_id_);
}

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

// PieceToId answers unk_id for a missing piece; tell that apart from <unk>.
int32_t Tokenizer::find_piece(std::string_view piece) const {
  const int id = sp_->PieceToId(piece);
  return id >= 0 && sp_->IdToPiece(id) == piece ? id : -1;
}

void Tokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<int> ids;
  if (auto st = sp_->Encode(text, &ids); !st.ok()) {
    throw GraphcError(fmt::format("tokenizer: cannot encode text: {}", st.ToString()));
  }
  out.insert(out.end(), ids.begin(), ids.end());
}

// SentencePiece never matches CONTROL pieces such as <bos> in text, so the
// markers are cut out here and the text between them is encoded on its own,
// as llama.cpp and Hugging Face split special tokens out before BPE. For the
// USER_DEFINED turn markers this changes nothing: BPE never merges across them.
std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos) out.push_back(special_.bos);
  // next[i]: where markers_[i] next occurs at or after pos; found lazily so
  // the text is scanned once per marker, not once per marker and hit.
  std::vector<size_t> next;
  for (const auto& m : markers_) next.push_back(text.find(m.first));
  size_t pos = 0;
  while (true) {
    size_t hit = std::string_view::npos;
    size_t which = 0;
    for (size_t i = 0; i < markers_.size(); ++i) {
      if (next[i] < pos) next[i] = text.find(markers_[i].first, pos);
      if (next[i] < hit) {
        hit = next[i];
        which = i;
      }
    }
    if (hit == std::string_view::npos) break;
    encode_plain(text.substr(pos, hit - pos), out);
    out.push_back(markers_[which].second);
    pos = hit + markers_[which].first.size();
  }
  encode_plain(text.substr(pos), out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::vector<int> sp_ids(ids.begin(), ids.end());
  for (int32_t id : ids) piece(id);  // throws on an id outside the vocabulary
  std::string text;
  if (auto st = sp_->Decode(sp_ids, &text); !st.ok()) {
    throw GraphcError(fmt::format("tokenizer: cannot decode ids: {}", st.ToString()));
  }
  return text;
}

const std::string& Tokenizer::piece(int32_t id) const {
  if (id < 0 || id >= vocab_size_) {
    throw GraphcError(fmt::format("tokenizer: id {} is outside the vocabulary of {} pieces", id, vocab_size_));
  }
  return sp_->IdToPiece(id);
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return id == special_.eos || (id >= 0 && (id == end_of_turn_id_ || id == eos_piece_id_));
}

// Gemma's template (tokenizer_config.json of the -it models): a system
// message has no turn of its own but is prefixed, untrimmed and followed by a
// blank line, to the first user turn; every turn's content is trimmed;
// "assistant" is written as "model".
Expected<std::string> Tokenizer::render_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  size_t first = 0;
  std::string system_prefix;
  if (!messages.empty() && messages[0].role == "system") {
    system_prefix = messages[0].content + "\n\n";
    first = 1;
  }
  if (first == messages.size()) return Error{"chat has no user message"};
  std::string text = "<bos>";
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool user_turn = (i - first) % 2 == 0;
    const bool is_user = m.role == "user";
    const bool is_model = m.role == "assistant" || m.role == "model";
    if ((user_turn && !is_user) || (!user_turn && !is_model)) {
      return Error{fmt::format("chat message {} has role '{}' but roles must alternate user/model{}", i, m.role,
                               m.role == "system" ? " (a system message may only come first)" : "")};
    }
    text += fmt::format("{}{}\n", kStartOfTurn, is_user ? "user" : "model");
    if (i == first) text += system_prefix;
    text += trim(m.content);
    text += fmt::format("{}\n", kEndOfTurn);
  }
  if (add_generation_prompt) text += fmt::format("{}model\n", kStartOfTurn);
  return text;
}

}  // namespace graphc
