// The text form, written out. Names are chosen for a whole function before
// any of it is printed, so a use that comes before its definition (which the
// verifier rejects, but which a dump must still show) prints the same name as
// the definition.
#include "ir/printer.h"

#include <unordered_set>

#include "ir/op_registry.h"

namespace graphc {
namespace {

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_letter(c) || is_digit(c) || c == '_' || c == '.' || c == '$' || c == '-'; }
bool is_word_char(char c) { return is_letter(c) || is_digit(c) || c == '_'; }

bool all_digits(const std::string& s) {
  for (char c : s)
    if (!is_digit(c)) return false;
  return !s.empty();
}

// An @name or a %name as the parser reads it: [A-Za-z0-9_.$-]+. Names built
// in C++ may hold anything; other characters become '_'.
std::string printable_name(const std::string& s) {
  if (s.empty()) return "_";
  std::string out = s;
  for (char& c : out)
    if (!is_name_char(c)) c = '_';
  return out;
}

// A bare word: [A-Za-z_][A-Za-z0-9_]* (attribute names, symbolic dims).
std::string printable_word(const std::string& s) {
  std::string out = s.empty() || is_digit(s[0]) ? "_" + s : s;
  for (char& c : out)
    if (!is_word_char(c)) c = '_';
  return out;
}

// A symbolic dim; `inf` and `nan` would read back as floats inside a list.
std::string printable_dim_symbol(const std::string& s) {
  std::string out = printable_word(s);
  if (out == "inf" || out == "nan") out += "_";
  return out;
}

std::string dim_text(const Dim& d) {
  return d.is_symbolic() ? printable_dim_symbol(d.symbol) : std::to_string(d.value);
}

class Printer {
 public:
  Printer(const PrintOptions& options, PrintedModule& out) : options_(options), out_(out) {}

  void module(const Module& m) {
    emit("module @" + printable_name(m.name()) + "\n");
    if (!m.globals().empty()) emit("\n");
    for (const Global& g : m.globals()) {
      out_.line_of_global[g.name] = line_;
      emit(std::string(g.kind == GlobalKind::Weight ? "weight" : "state") + " @" + printable_name(g.name) + " : " +
           print_type(g.type) + (g.initializer.empty() ? "" : " = @" + printable_name(g.initializer)) + "\n");
    }
    for (const auto& f : m.functions()) {
      emit("\n");
      function(*f);
    }
  }

  void function(const Function& f) {
    name_values(f);
    out_.line_of_function[&f] = line_;
    std::string s = "func @" + printable_name(f.name()) + "(" + args_text(*f.body()) + ") -> (";
    for (size_t i = 0; i < f.result_types().size(); ++i) s += (i ? ", " : "") + print_type(f.result_types()[i]);
    emit(s + ") {\n");
    block_ops(*f.body(), 2);
    emit("}\n");
  }

 private:
  // ---- names -----------------------------------------------------------------

  void name_values(const Function& f) {
    names_.clear();
    used_.clear();
    next_suffix_.clear();
    next_number_ = 0;
    name_block(*f.body());
  }

  // Print order: a block's arguments, then each op's results followed by its
  // regions.
  void name_block(const Block& b) {
    for (const auto& a : b.args()) name_value(a.get());
    for (const auto& op : b.ops()) {
      for (const auto& r : op->results()) name_value(r.get());
      for (const auto& region : op->regions()) name_block(*region);
    }
  }

  void name_value(const Value* v) {
    std::string name;
    if (v->name().empty()) {
      name = std::to_string(next_number_++);  // all digits: never clashes with a printed hint
    } else {
      const std::string hint = printable_name(v->name());
      name = hint;
      if (all_digits(hint) || used_.count(hint)) {
        int& k = next_suffix_[hint];
        do name = hint + "_" + std::to_string(++k);
        while (used_.count(name));
      }
    }
    used_.insert(name);
    names_[v] = name;
    out_.name_of_value[v] = name;
  }

  std::string value_ref(const Value* v) const {
    if (!v) return "%<null>";
    auto it = names_.find(v);
    return it == names_.end() ? "%<not-in-function>" : "%" + it->second;
  }

  // ---- ops -------------------------------------------------------------------

  std::string args_text(const Block& b) const {
    std::string s;
    for (const auto& a : b.args()) s += (s.empty() ? "" : ", ") + value_ref(a.get()) + ": " + print_type(a->type());
    return s;
  }

  void block_ops(const Block& b, int indent) {
    for (const auto& op : b.ops()) print_op(*op, indent);
  }

  void print_op(const Op& op, int indent) {
    out_.line_of_op[&op] = line_;
    const std::string pad(indent, ' ');
    std::string s = pad;
    for (int i = 0; i < op.num_results(); ++i) s += (i ? ", " : "") + value_ref(op.result(i));
    if (op.num_results() > 0) s += " = ";
    s += op.name();
    for (int i = 0; i < op.num_operands(); ++i) s += (i ? ", " : " ") + value_ref(op.operand(i));
    if (!op.attrs().empty()) {
      s += " {";
      bool first = true;
      for (const auto& [key, value] : op.attrs()) {
        s += (first ? "" : ", ") + printable_word(key) + " = " + attr_text(op, key, value);
        first = false;
      }
      s += "}";
    }
    for (int i = 0; i < op.num_results(); ++i) s += (i ? ", " : " : ") + print_type(op.result(i)->type());
    for (const auto& region : op.regions()) {
      emit(s + " {\n");
      emit(pad + "^(" + args_text(*region) + "):\n");
      block_ops(*region, indent + 2);
      s = pad + "}";
    }
    emit(s + "\n");
  }

  std::string attr_text(const Op& op, const std::string& key, const Attribute& a) const {
    const int64_t max = options_.max_constant_elements;
    switch (a.kind()) {
      case AttrKind::Symbol: return "@" + printable_name(a.as_symbol());
      case AttrKind::Dims: {
        const std::vector<Dim>& dims = a.as_dims();
        if (max >= 0 && static_cast<int64_t>(dims.size()) > max && op.name() == "constant" && key == "value")
          return "<elided " + std::to_string(dims.size()) + " integers>";
        std::string s = "[";
        for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + dim_text(dims[i]);
        return s + "]";
      }
      default: return a.str(max);
    }
  }

  void emit(const std::string& s) {
    out_.text += s;
    for (char c : s) line_ += c == '\n';
  }

  const PrintOptions& options_;
  PrintedModule& out_;
  int line_ = 1;  // the line the next character goes on
  std::unordered_map<const Value*, std::string> names_;  // the current function's
  std::unordered_set<std::string> used_;
  std::unordered_map<std::string, int> next_suffix_;
  int64_t next_number_ = 0;
};

}  // namespace

std::string print_type(const TensorType& type) {
  std::string s = std::string(dtype_name(type.dtype)) + "[";
  for (size_t i = 0; i < type.shape.size(); ++i) s += (i ? "," : "") + dim_text(type.shape[i]);
  return s + "]";
}

PrintedModule print_module_with_locations(const Module& module, const PrintOptions& options) {
  PrintedModule out;
  Printer(options, out).module(module);
  return out;
}

std::string print_module(const Module& module, const PrintOptions& options) {
  return print_module_with_locations(module, options).text;
}

PrintedModule print_function_with_locations(const Function& function, const PrintOptions& options) {
  PrintedModule out;
  Printer(options, out).function(function);
  return out;
}

std::string print_function(const Function& function, const PrintOptions& options) {
  return print_function_with_locations(function, options).text;
}

}  // namespace graphc
