// The text form, read back: a lexer that makes tokens on demand (so the first
// error in the file is the one reported) and a recursive-descent parser, one
// function per rule of the grammar in docs/ir.md.
//
// Names are resolved per function after the whole function is read: a name
// may be used before, or outside of, the region that defines it, and the
// verifier reports that with the line. A name defined nowhere in the function
// is an error here.
#include "ir/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/op_registry.h"

namespace graphc {
namespace {

// ---- tokens ------------------------------------------------------------------

enum class Tok {
  End,
  Newline,
  Word,       // [A-Za-z_][A-Za-z0-9_]*: keywords, op names, dtypes, attribute names, dims
  ValueName,  // %name (text holds the name without '%')
  Symbol,     // @name (text holds the name without '@')
  Integer,
  Float,
  String,
  LParen,
  RParen,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Equal,
  Caret,
  Arrow,
  Elided,  // <elided N floats>: printed for reading only
  Bad,     // a character that starts no token
};

struct Token {
  Tok kind = Tok::End;
  std::string_view raw;   // the token as written
  std::string_view text;  // names without their sigil; otherwise == raw
  int line = 1;
  int col = 1;
  int64_t int_value = 0;
  double float_value = 0;
  std::string string_value;  // a string literal, unescaped
};

struct ParseError {
  std::string message;
};

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word_char(char c) { return is_letter(c) || is_digit(c) || c == '_'; }
bool is_name_char(char c) { return is_word_char(c) || c == '.' || c == '$' || c == '-'; }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Quotes text for a message: at most 40 characters, control bytes escaped.
std::string quoted(std::string_view s) {
  const bool cut = s.size() > 40;
  if (cut) s = s.substr(0, 40);
  std::string out = "'";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  return out + (cut ? "...'" : "'");
}

// ---- lexer -------------------------------------------------------------------

class Lexer {
 public:
  Lexer(std::string_view text, std::string_view filename) : text_(text), filename_(filename) {}

  Token next() {
    skip_space_and_comments();
    Token t;
    t.line = line_;
    t.col = col();
    if (pos_ >= text_.size()) return t;  // End
    const size_t start = pos_;
    const char c = text_[pos_];
    auto single = [&](Tok k) {
      ++pos_;
      finish(t, k, start);
      return t;
    };
    switch (c) {
      case '\n': {
        ++pos_;
        finish(t, Tok::Newline, start);
        ++line_;
        line_start_ = pos_;
        return t;
      }
      case '(': return single(Tok::LParen);
      case ')': return single(Tok::RParen);
      case '{': return single(Tok::LBrace);
      case '}': return single(Tok::RBrace);
      case '[': return single(Tok::LBracket);
      case ']': return single(Tok::RBracket);
      case ',': return single(Tok::Comma);
      case ':': return single(Tok::Colon);
      case '=': return single(Tok::Equal);
      case '^': return single(Tok::Caret);
      case '%':
      case '@': sigil_name(t, c == '%' ? Tok::ValueName : Tok::Symbol); return t;
      case '"': string_literal(t); return t;
      case '<': elided(t); return t;
      default: break;
    }
    if (c == '-' && peek_char(1) == '>') {
      pos_ += 2;
      finish(t, Tok::Arrow, start);
    } else if (is_digit(c) || (c == '-' && (is_digit(peek_char(1)) || word_at(pos_ + 1) == "inf"))) {
      number(t);
    } else if (is_letter(c) || c == '_') {
      while (pos_ < text_.size() && is_word_char(text_[pos_])) ++pos_;
      finish(t, Tok::Word, start);
    } else {
      ++pos_;
      finish(t, Tok::Bad, start);
    }
    return t;
  }

  [[noreturn]] void fail(int line, int col, const std::string& message) const {
    throw ParseError{fmt::format("{}:{}:{}: {}", filename_, line, col, message)};
  }

 private:
  char peek_char(size_t ahead) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  int col() const { return static_cast<int>(pos_ - line_start_) + 1; }
  std::string_view word_at(size_t p) const {
    size_t e = p;
    while (e < text_.size() && is_word_char(text_[e])) ++e;
    return text_.substr(p, e - p);
  }

  Token& finish(Token& t, Tok kind, size_t start) const {
    t.kind = kind;
    t.raw = t.text = text_.substr(start, pos_ - start);
    return t;
  }

  void skip_space_and_comments() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '/' && peek_char(1) == '/') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  void sigil_name(Token& t, Tok kind) {
    const size_t start = pos_++;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    if (pos_ == start + 1) {  // a lone '%' or '@'
      finish(t, Tok::Bad, start);
      return;
    }
    finish(t, kind, start);
    t.text = t.raw.substr(1);
  }

  void string_literal(Token& t) {
    const size_t start = pos_++;
    std::string value;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') fail(t.line, t.col, "unterminated string");
      const char c = text_[pos_];
      if (c == '"') break;
      if (c != '\\') {
        value += c;
        ++pos_;
        continue;
      }
      const int esc_col = col();
      const char e = peek_char(1);
      switch (e) {
        case '"': value += '"'; break;
        case '\\': value += '\\'; break;
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'x': {
          const int hi = hex_value(peek_char(2)), lo = hex_value(peek_char(3));
          if (hi < 0 || lo < 0) fail(t.line, esc_col, "expected two hex digits after '\\x' in a string");
          value += static_cast<char>(hi * 16 + lo);
          pos_ += 2;
          break;
        }
        default:
          if (pos_ + 1 >= text_.size() || e == '\n') fail(t.line, t.col, "unterminated string");
          fail(t.line, esc_col,
               "unknown escape " + quoted(text_.substr(pos_, 2)) + " in a string (expected \\\" \\\\ \\n \\t or \\xNN)");
      }
      pos_ += 2;
    }
    ++pos_;  // the closing quote
    finish(t, Tok::String, start);
    t.string_value = std::move(value);
  }

  void elided(Token& t) {
    const size_t start = pos_;
    if (word_at(pos_ + 1) != "elided") {
      ++pos_;
      finish(t, Tok::Bad, start);
      return;
    }
    while (pos_ < text_.size() && text_[pos_] != '>' && text_[pos_] != '\n') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '>') ++pos_;
    finish(t, Tok::Elided, start);
  }

  // -?[0-9]+(.[0-9]*)?([eE][+-]?[0-9]+)? or -inf; anything glued to it that
  // could continue a number or a word makes it malformed.
  void number(Token& t) {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    bool is_float = false;
    if (word_at(pos_) == "inf") {
      pos_ += 3;
      finish(t, Tok::Float, start);
      t.float_value = -std::numeric_limits<double>::infinity();
      return;
    }
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    if (peek_char(0) == '.') {
      is_float = true;
      ++pos_;
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    }
    const char e = peek_char(0);
    if ((e == 'e' || e == 'E') &&
        (is_digit(peek_char(1)) || ((peek_char(1) == '+' || peek_char(1) == '-') && is_digit(peek_char(2))))) {
      is_float = true;
      pos_ += 2;
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (is_word_char(text_[pos_]) || text_[pos_] == '.')) {
      while (pos_ < text_.size()) {
        const char c = text_[pos_];
        const char prev = text_[pos_ - 1];
        const bool sign_of_exponent = (c == '+' || c == '-') && (prev == 'e' || prev == 'E');
        if (!is_word_char(c) && c != '.' && !sign_of_exponent) break;
        ++pos_;
      }
      fail(t.line, t.col, "malformed number " + quoted(text_.substr(start, pos_ - start)));
    }
    finish(t, is_float ? Tok::Float : Tok::Integer, start);
    const char* first = t.raw.data();
    const char* last = first + t.raw.size();
    if (is_float) {
      auto [ptr, ec] = std::from_chars(first, last, t.float_value);
      if (ec == std::errc::result_out_of_range) fail(t.line, t.col, "float " + quoted(t.raw) + " is out of range");
      if (ec != std::errc() || ptr != last) fail(t.line, t.col, "malformed number " + quoted(t.raw));
    } else {
      auto [ptr, ec] = std::from_chars(first, last, t.int_value);
      if (ec == std::errc::result_out_of_range)
        fail(t.line, t.col, "integer " + quoted(t.raw) + " is out of range (64-bit)");
      if (ec != std::errc() || ptr != last) fail(t.line, t.col, "malformed number " + quoted(t.raw));
    }
  }

  std::string_view text_;
  std::string_view filename_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  int line_ = 1;
};

// ---- parser ------------------------------------------------------------------

bool all_digits(std::string_view s) {
  for (char c : s)
    if (!is_digit(c)) return false;
  return !s.empty();
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::End: return "end of file";
    case Tok::Newline: return "end of line";
    case Tok::Elided: return "an elided constant " + quoted(t.raw);
    default: return quoted(t.raw);
  }
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view filename) : lexer_(text, filename) {}

  std::unique_ptr<Module> parse() {
    skip_newlines();
    if (!(peek().kind == Tok::Word && peek().text == "module")) expected("'module'", peek());
    take();
    const Token name = expect(Tok::Symbol, "module name '@name' after 'module'");
    module_ = std::make_unique<Module>(std::string(name.text));
    end_of_line("after the module name");
    while (true) {
      skip_newlines();
      const Token& t = peek();
      if (t.kind == Tok::End) break;
      if (t.kind == Tok::Word && t.text == "weight") parse_global(GlobalKind::Weight);
      else if (t.kind == Tok::Word && t.text == "state") parse_global(GlobalKind::State);
      else if (t.kind == Tok::Word && t.text == "func") parse_function();
      else expected("'weight', 'state' or 'func'", t);
    }
    return std::move(module_);
  }

 private:
  // ---- token stream --------------------------------------------------------

  const Token& peek() {
    fill(1);
    return ahead_[0];
  }
  const Token& peek2() {
    fill(2);
    return ahead_[1];
  }
  bool at(Tok k) { return peek().kind == k; }
  Token take() {
    fill(1);
    Token t = std::move(ahead_[0]);
    ahead_.erase(ahead_.begin());
    return t;
  }
  void fill(size_t n) {
    while (ahead_.size() < n) ahead_.push_back(lexer_.next());
  }

  [[noreturn]] void fail_at(const Token& t, const std::string& message) const {
    lexer_.fail(t.line, t.col, message);
  }
  [[noreturn]] void expected(const std::string& what, const Token& found) const {
    fail_at(found, "expected " + what + ", found " + describe(found));
  }
  Token expect(Tok k, const std::string& what) {
    if (!at(k)) expected(what, peek());
    return take();
  }
  void skip_newlines() {
    while (at(Tok::Newline)) take();
  }
  // A newline, or the end of the file.
  void end_of_line(const std::string& where) {
    if (at(Tok::End)) return;
    expect(Tok::Newline, "end of line " + where);
  }

  // ---- module level --------------------------------------------------------

  void parse_global(GlobalKind kind) {
    const Token keyword = take();
    const Token name = expect(Tok::Symbol, "global name '@name' after '" + std::string(keyword.text) + "'");
    expect(Tok::Colon, "':' after the global name");
    TensorType type = parse_type();
    std::string initializer;
    if (kind == GlobalKind::Weight && at(Tok::Equal)) {
      take();
      initializer = std::string(expect(Tok::Symbol, "initializer function '@name' after '='").text);
    }
    end_of_line("after the global");
    const std::string n(name.text);
    if (module_->global(n)) fail_at(name, "global @" + n + " is declared twice");
    module_->add_global(kind, n, std::move(type), std::move(initializer));
    module_->set_global_line(n, keyword.line);
  }

  void parse_function() {
    const Token keyword = take();
    const Token name = expect(Tok::Symbol, "function name '@name' after 'func'");
    const std::string n(name.text);
    if (module_->function(n)) fail_at(name, "function @" + n + " is defined twice");
    Function* f = module_->add_function(n);
    f->set_line(keyword.line);
    defined_.clear();
    pending_.clear();

    expect(Tok::LParen, "'(' after the function name");
    parse_args(*f->body(), "parameter");
    expect(Tok::Arrow, "'->' after the parameters");
    expect(Tok::LParen, "'(' before the result types");
    std::vector<TensorType> results;
    if (!at(Tok::RParen)) {
      while (true) {
        results.push_back(parse_type());
        if (!at(Tok::Comma)) break;
        take();
      }
    }
    expect(Tok::RParen, "',' or ')' after the result type");
    f->set_result_types(std::move(results));
    expect(Tok::LBrace, "'{' to start the function body");
    expect(Tok::Newline, "end of line after '{'");
    parse_block_ops(*f->body(), 0);
    end_of_line("after the function's '}'");
    resolve_pending();
  }

  // `(%a: t, %b: t)` as a block's arguments; the '(' is already taken.
  void parse_args(Block& block, const std::string& what) {
    if (!at(Tok::RParen)) {
      while (true) {
        const Token name = expect(Tok::ValueName, what + " '%name' or ')'");
        expect(Tok::Colon, "':' after value name");
        define(block.add_arg(parse_type(), hint(name)), name);
        if (!at(Tok::Comma)) break;
        take();
        if (!at(Tok::ValueName)) expected(what + " '%name' after ','", peek());
      }
    }
    expect(Tok::RParen, "',' or ')' after the " + what);
  }

  TensorType parse_type() {
    const Token& t = peek();
    if (t.kind != Tok::Word) expected("a type such as f32[4]", t);
    std::optional<DType> dtype = parse_dtype(t.text);
    if (!dtype) fail_at(t, "unknown dtype " + quoted(t.text) + " (expected f32, bf16, f16, i32, i64 or bool)");
    const Token first = take();
    expect(Tok::LBracket, "'[' after the dtype");
    Shape shape;
    int64_t elements = 1;
    if (!at(Tok::RBracket)) {
      while (true) {
        const Token d = take();
        if (d.kind == Tok::Word) {
          shape.push_back(Dim::sym(std::string(d.text)));
        } else if (d.kind == Tok::Integer && d.int_value >= 0) {
          if (d.int_value > kMaxDim) fail_at(d, fmt::format("dimension {} is larger than 2^40", d.int_value));
          shape.push_back(Dim(d.int_value));
          if (elements != 0 && d.int_value > kMaxElements / std::max<int64_t>(elements, 1))
            fail_at(first, fmt::format("type {}[...] has more than 2^48 elements", first.text));
          elements *= d.int_value;
        } else {
          expected("a dimension (a non-negative integer or a symbol)", d);
        }
        if (!at(Tok::Comma)) break;
        take();
      }
    }
    expect(Tok::RBracket, "',' or ']' in the shape");
    return TensorType(*dtype, std::move(shape));
  }

  // ---- ops and regions -----------------------------------------------------

  // Ops up to and including the block's closing '}'.
  void parse_block_ops(Block& block, int depth) {
    while (true) {
      skip_newlines();
      const Token& t = peek();
      if (t.kind == Tok::RBrace) {
        take();
        return;
      }
      if (t.kind != Tok::ValueName && t.kind != Tok::Word) expected("an op or '}'", t);
      parse_op(block, depth);
    }
  }

  void parse_op(Block& block, int depth) {
    const int line = peek().line;
    std::vector<Token> result_names;
    if (at(Tok::ValueName)) {
      while (true) {
        result_names.push_back(take());
        if (!at(Tok::Comma)) break;
        take();
        if (!at(Tok::ValueName)) expected("a result name '%name' after ','", peek());
      }
      expect(Tok::Equal, "',' or '=' after the result name");
    }
    const Token& name = peek();
    if (name.kind != Tok::Word) expected("an op name", name);
    const OpDef* def = OpRegistry::instance().find(name.text);
    if (!def) fail_at(name, "unknown op " + quoted(name.text));
    take();

    std::vector<Token> operands;
    if (at(Tok::ValueName)) {
      while (true) {
        operands.push_back(take());
        if (!at(Tok::Comma)) break;
        take();
        if (!at(Tok::ValueName)) expected("an operand '%name' after ','", peek());
      }
    }
    AttrMap attrs;
    if (at(Tok::LBrace) && peek2().kind == Tok::Word) attrs = parse_attrs();

    Op* op = block.insert(std::make_unique<Op>(def, std::vector<Value*>(operands.size(), nullptr), std::move(attrs)));
    op->set_line(line);
    for (size_t i = 0; i < operands.size(); ++i) use(operands[i], *op, static_cast<int>(i));

    if (!result_names.empty()) {
      const Token colon = expect(Tok::Colon, "':' and the result types");
      std::vector<TensorType> types;
      while (true) {
        types.push_back(parse_type());
        if (!at(Tok::Comma)) break;
        take();
      }
      if (types.size() != result_names.size())
        fail_at(colon, fmt::format("expected {} result types (one per result), found {}", result_names.size(),
                                   types.size()));
      for (size_t i = 0; i < types.size(); ++i)
        define(op->add_result(std::move(types[i]), hint(result_names[i])), result_names[i]);
    } else if (at(Tok::Colon)) {
      fail_at(peek(), "expected end of line, found ':' (an op without results has no result types)");
    }
    while (at(Tok::LBrace)) parse_region(*op, depth + 1);
    expect(Tok::Newline, "end of line after the op");
  }

  // `{ ^(%args): NEWLINE ops }`; nothing after the '}' is taken.
  void parse_region(Op& op, int depth) {
    const Token open = take();
    if (depth > kMaxRegionDepth)
      fail_at(open, fmt::format("regions are nested more than {} deep", kMaxRegionDepth));
    Block* region = op.add_region();
    skip_newlines();
    expect(Tok::Caret, "'^(' to start the region's arguments");
    expect(Tok::LParen, "'(' after '^'");
    parse_args(*region, "region argument");
    expect(Tok::Colon, "':' after the region's arguments");
    expect(Tok::Newline, "end of line after the region's arguments");
    parse_block_ops(*region, depth);
  }

  // ---- attributes ----------------------------------------------------------

  AttrMap parse_attrs() {
    take();  // '{'
    AttrMap attrs;
    while (true) {
      const Token key = expect(Tok::Word, "an attribute name");
      expect(Tok::Equal, "'=' after the attribute name");
      Attribute value = parse_attr_value();
      if (!attrs.emplace(std::string(key.text), std::move(value)).second)
        fail_at(key, "duplicate attribute " + quoted(key.text));
      if (!at(Tok::Comma)) break;
      take();
    }
    expect(Tok::RBrace, "',' or '}' after the attribute");
    return attrs;
  }

  static std::optional<double> special_float(const Token& t) {
    if (t.kind != Tok::Word) return std::nullopt;
    if (t.text == "inf") return std::numeric_limits<double>::infinity();
    if (t.text == "nan") return std::numeric_limits<double>::quiet_NaN();
    return std::nullopt;
  }

  Attribute parse_attr_value() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::Integer: return Attribute(take().int_value);
      case Tok::Float: return Attribute(take().float_value);
      case Tok::String: return Attribute(take().string_value);
      case Tok::Symbol: return Attribute(SymbolRef{std::string(take().text)});
      case Tok::LBracket: return parse_list();
      case Tok::Word: {
        if (t.text == "true" || t.text == "false") return Attribute(take().text == "true");
        if (auto f = special_float(t)) {
          take();
          return Attribute(*f);
        }
        if (auto d = parse_dtype(t.text)) {
          take();
          return Attribute(*d);
        }
        fail_at(t, "expected an attribute value, found " + describe(t) +
                       " (a number, true, false, a \"string\", an @symbol, a dtype or a [list])");
      }
      case Tok::Elided:
        fail_at(t, "expected an attribute value, found " + describe(t) +
                       ": text printed with elided constants cannot be parsed back");
      default: expected("an attribute value", t);
    }
  }

  // `[1, 2]` and `[seq, 4]` read as integers/dims; any float makes a float list.
  Attribute parse_list() {
    take();  // '['
    std::vector<Dim> dims;
    std::vector<double> floats;
    const Token* first_symbol = nullptr;
    Token symbol_token;
    bool any_float = false;
    if (!at(Tok::RBracket)) {
      while (true) {
        const Token& e = peek();
        std::optional<double> special = special_float(e);
        if (e.kind == Tok::Integer) {
          dims.push_back(Dim(e.int_value));
          floats.push_back(static_cast<double>(e.int_value));
        } else if (e.kind == Tok::Float || special) {
          if (first_symbol)
            fail_at(e, "expected an integer or a symbolic dim (the list holds " + describe(*first_symbol) +
                           "), found " + describe(e));
          any_float = true;
          floats.push_back(special ? *special : e.float_value);
        } else if (e.kind == Tok::Word) {
          if (any_float) fail_at(e, "expected a number (the list holds floats), found " + describe(e));
          dims.push_back(Dim::sym(std::string(e.text)));
          if (!first_symbol) {
            symbol_token = e;
            first_symbol = &symbol_token;
          }
        } else {
          expected("a list element (a number or a symbolic dim)", e);
        }
        take();
        if (!at(Tok::Comma)) break;
        take();
      }
    }
    expect(Tok::RBracket, "',' or ']' in the list");
    return any_float ? Attribute(std::move(floats)) : Attribute(std::move(dims));
  }

  // ---- names -------------------------------------------------------------

  // Numeric names are positions in the printed text, not hints.
  static std::string hint(const Token& name) { return all_digits(name.text) ? "" : std::string(name.text); }

  void define(Value* v, const Token& name) {
    auto [it, inserted] = defined_.emplace(name.text, Definition{v, name.line});
    if (!inserted)
      fail_at(name, fmt::format("duplicate value name %{} (first defined on line {})", name.text, it->second.line));
  }

  void use(const Token& name, Op& op, int index) {
    auto it = defined_.find(name.text);
    if (it != defined_.end()) op.set_operand(index, it->second.value);
    else pending_.push_back(PendingUse{&op, index, name.text, name.line, name.col});
  }

  void resolve_pending() {
    for (const PendingUse& u : pending_) {
      auto it = defined_.find(u.name);
      if (it == defined_.end())
        lexer_.fail(u.line, u.col, fmt::format("undefined value %{}", u.name));
      u.op->set_operand(u.index, it->second.value);
    }
    pending_.clear();
  }

  struct Definition {
    Value* value;
    int line;
  };
  struct PendingUse {
    Op* op;
    int index;
    std::string_view name;
    int line, col;
  };

  Lexer lexer_;
  std::vector<Token> ahead_;
  std::unique_ptr<Module> module_;
  std::unordered_map<std::string_view, Definition> defined_;  // the current function's names
  std::vector<PendingUse> pending_;                           // uses not yet defined
};

}  // namespace

Expected<std::unique_ptr<Module>> parse_module(std::string_view text, std::string_view filename) {
  if (text.size() > static_cast<size_t>(INT_MAX / 2))
    return Error{fmt::format("{}: the input is too large ({} bytes)", filename, text.size())};
  try {
    return Parser(text, filename).parse();
  } catch (const ParseError& e) {
    return Error{e.message};
  } catch (const std::exception& e) {
    return Error{fmt::format("{}: {}", filename, e.what())};
  }
}

}  // namespace graphc
