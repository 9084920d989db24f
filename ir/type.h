// Tensor types: an element type and a shape whose dimensions are integers or
// named symbols (`seq`, `batch`) bound when a function is called.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/dtype.h"

namespace graphc {

struct Dim {
  int64_t value = 0;   // meaningful when symbol is empty
  std::string symbol;  // non-empty for a symbolic dimension

  Dim() = default;
  Dim(int64_t v) : value(v) {}  // NOLINT: integers convert implicitly
  Dim(int v) : value(v) {}      // NOLINT
  static Dim sym(std::string name) {
    Dim d;
    d.symbol = std::move(name);
    return d;
  }
  bool is_symbolic() const { return !symbol.empty(); }
  bool is_static() const { return symbol.empty(); }
  bool operator==(const Dim& o) const { return value == o.value && symbol == o.symbol; }
  std::string str() const;
};

using Shape = std::vector<Dim>;

std::string shape_str(const Shape& s);  // "[seq,640]"
bool is_static(const Shape& s);
// Number of elements; nullopt if any dim is symbolic.
std::optional<int64_t> num_elements(const Shape& s);
std::vector<int64_t> to_static(const Shape& s);  // requires is_static
Shape from_static(const std::vector<int64_t>& dims);

// Symbol bindings of one call (seq -> 7); substitute() makes a shape concrete.
using SymbolBindings = std::map<std::string, int64_t>;
// Throws GraphcError naming the unbound symbol.
std::vector<int64_t> substitute(const Shape& s, const SymbolBindings& bindings);

struct TensorType {
  DType dtype = DType::f32;
  Shape shape;

  TensorType() = default;
  TensorType(DType t, Shape s) : dtype(t), shape(std::move(s)) {}
  int rank() const { return static_cast<int>(shape.size()); }
  bool operator==(const TensorType& o) const { return dtype == o.dtype && shape == o.shape; }
  std::string str() const;  // "f32[seq,640]"
};

}  // namespace graphc
