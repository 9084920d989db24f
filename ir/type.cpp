#include "ir/type.h"

#include <fmt/format.h>

#include "ir/status.h"

namespace graphc {

std::string Dim::str() const { return is_symbolic() ? symbol : std::to_string(value); }

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += s[i].str();
  }
  return out + "]";
}

bool is_static(const Shape& s) {
  for (const Dim& d : s)
    if (d.is_symbolic()) return false;
  return true;
}

std::optional<int64_t> num_elements(const Shape& s) {
  int64_t n = 1;
  for (const Dim& d : s) {
    if (d.is_symbolic()) return std::nullopt;
    if (__builtin_mul_overflow(n, d.value, &n)) throw GraphcError("shape " + shape_str(s) + " has too many elements");
  }
  return n;
}

std::vector<int64_t> to_static(const Shape& s) {
  std::vector<int64_t> out;
  out.reserve(s.size());
  for (const Dim& d : s) {
    if (d.is_symbolic()) throw GraphcError("shape " + shape_str(s) + " is not static");
    out.push_back(d.value);
  }
  return out;
}

Shape from_static(const std::vector<int64_t>& dims) { return Shape(dims.begin(), dims.end()); }

std::vector<int64_t> substitute(const Shape& s, const SymbolBindings& bindings) {
  std::vector<int64_t> out;
  out.reserve(s.size());
  for (const Dim& d : s) {
    if (!d.is_symbolic()) {
      out.push_back(d.value);
      continue;
    }
    auto it = bindings.find(d.symbol);
    if (it == bindings.end()) throw GraphcError("symbolic dim '" + d.symbol + "' is not bound");
    out.push_back(it->second);
  }
  return out;
}

std::string TensorType::str() const { return std::string(dtype_name(dtype)) + shape_str(shape); }

}  // namespace graphc
