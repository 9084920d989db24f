// An SSA value: the result of an op or an argument of a block (a function's
// parameter, a loop body's induction variable and carried values).
#pragma once

#include <string>

#include "ir/type.h"

namespace graphc {

class Op;
class Block;

class Value {
 public:
  Value(TensorType type, std::string name = {}) : type_(std::move(type)), name_(std::move(name)) {}
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  const TensorType& type() const { return type_; }
  void set_type(TensorType t) { type_ = std::move(t); }
  DType dtype() const { return type_.dtype; }
  const Shape& shape() const { return type_.shape; }
  int rank() const { return type_.rank(); }

  // A name hint for the text form; empty means "number it".
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

  Op* defining_op() const { return def_; }  // null for block arguments
  Block* owner_block() const { return block_; }  // set for block arguments
  int index() const { return index_; }  // result or argument position

 private:
  friend class Op;
  friend class Block;
  TensorType type_;
  std::string name_;
  Op* def_ = nullptr;
  Block* block_ = nullptr;
  int index_ = 0;
};

}  // namespace graphc
