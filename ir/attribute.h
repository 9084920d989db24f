// Op attributes: compile-time parameters such as an axis, a shape or a callee.
// Printed as `{name = value, ...}` in sorted order so text is deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "ir/dtype.h"
#include "ir/type.h"

namespace graphc {

struct SymbolRef {  // @name: a function or a module global
  std::string name;
  bool operator==(const SymbolRef& o) const { return name == o.name; }
};

enum class AttrKind { Int, Float, Bool, String, Symbol, Type, Dims, Floats };
std::string_view attr_kind_name(AttrKind k);

// Dims doubles as an integer list: [0, 2, 1] or [seq, 4, 256].
class Attribute {
 public:
  using Storage = std::variant<int64_t, double, bool, std::string, SymbolRef, DType,
                               std::vector<Dim>, std::vector<double>>;

  Attribute(int64_t v) : v_(v) {}  // NOLINT: implicit on purpose, {axis = 1}
  Attribute(int v) : v_(int64_t{v}) {}
  Attribute(double v) : v_(v) {}
  Attribute(bool v) : v_(v) {}
  Attribute(std::string v) : v_(std::move(v)) {}
  Attribute(const char* v) : v_(std::string(v)) {}
  Attribute(SymbolRef v) : v_(std::move(v)) {}
  Attribute(DType v) : v_(v) {}
  Attribute(std::vector<Dim> v) : v_(std::move(v)) {}
  Attribute(const std::vector<int64_t>& v) : v_(std::vector<Dim>(v.begin(), v.end())) {}
  Attribute(std::vector<double> v) : v_(std::move(v)) {}

  AttrKind kind() const { return static_cast<AttrKind>(v_.index()); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const;  // accepts an Int too
  bool as_bool() const { return std::get<bool>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const std::string& as_symbol() const { return std::get<SymbolRef>(v_).name; }
  DType as_type() const { return std::get<DType>(v_); }
  const std::vector<Dim>& as_dims() const { return std::get<std::vector<Dim>>(v_); }
  std::vector<int64_t> as_ints() const;  // Dims that are all static
  const std::vector<double>& as_floats() const { return std::get<std::vector<double>>(v_); }

  bool operator==(const Attribute& o) const { return v_ == o.v_; }
  // Text form; large float lists are elided when max_elements >= 0 is exceeded.
  std::string str(int64_t max_elements = -1) const;

 private:
  Storage v_;
};

using AttrMap = std::map<std::string, Attribute>;

// Shortest text that parses back to the same double; always has '.', 'e',
// or is inf/nan, so it never reads back as an integer.
std::string format_double(double v);

}  // namespace graphc
