#include "ir/attribute.h"

#include <charconv>
#include <cmath>

#include "ir/status.h"

namespace graphc {

std::string_view attr_kind_name(AttrKind k) {
  switch (k) {
    case AttrKind::Int: return "integer";
    case AttrKind::Float: return "float";
    case AttrKind::Bool: return "bool";
    case AttrKind::String: return "string";
    case AttrKind::Symbol: return "symbol";
    case AttrKind::Type: return "type";
    case AttrKind::Dims: return "list of integers or dims";
    case AttrKind::Floats: return "list of floats";
  }
  return "?";
}

double Attribute::as_float() const {
  if (kind() == AttrKind::Int) return static_cast<double>(as_int());
  return std::get<double>(v_);
}

std::vector<int64_t> Attribute::as_ints() const {
  std::vector<int64_t> out;
  for (const Dim& d : as_dims()) {
    if (d.is_symbolic()) throw GraphcError("expected integers, found symbol '" + d.symbol + "'");
    out.push_back(d.value);
  }
  return out;
}

std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

static std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string Attribute::str(int64_t max_elements) const {
  switch (kind()) {
    case AttrKind::Int: return std::to_string(as_int());
    case AttrKind::Float: return format_double(std::get<double>(v_));
    case AttrKind::Bool: return as_bool() ? "true" : "false";
    case AttrKind::String: return quote(as_string());
    case AttrKind::Symbol: return "@" + as_symbol();
    case AttrKind::Type: return std::string(dtype_name(as_type()));
    case AttrKind::Dims: {
      std::string out = "[";
      const auto& dims = as_dims();
      for (size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + dims[i].str();
      return out + "]";
    }
    case AttrKind::Floats: {
      const auto& fs = as_floats();
      if (max_elements >= 0 && static_cast<int64_t>(fs.size()) > max_elements)
        return "<elided " + std::to_string(fs.size()) + " floats>";
      std::string out = "[";
      for (size_t i = 0; i < fs.size(); ++i) out += (i ? ", " : "") + format_double(fs[i]);
      return out + "]";
    }
  }
  return "?";
}

}  // namespace graphc
