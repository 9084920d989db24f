// A block: arguments and an ordered list of ops ending in a terminator
// (`return` in a function body, `yield` in a region). Every region in graphc
// holds exactly one block, so "region" and "block" are the same thing here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/value.h"

namespace graphc {

class Op;
class Function;

class Block {
 public:
  Block() = default;
  ~Block();
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  Value* add_arg(TensorType type, std::string name = {});
  const std::vector<std::unique_ptr<Value>>& args() const { return args_; }
  Value* arg(int i) const { return args_.at(i).get(); }
  int num_args() const { return static_cast<int>(args_.size()); }

  const std::vector<std::unique_ptr<Op>>& ops() const { return ops_; }
  int num_ops() const { return static_cast<int>(ops_.size()); }
  Op* terminator() const;  // last op, if it is a terminator; else null

  // Takes ownership; inserts before position `pos` (default: at the end).
  Op* insert(std::unique_ptr<Op> op, int pos = -1);
  // Removes and destroys the op; its results must have no remaining uses.
  void erase(Op* op);
  std::unique_ptr<Op> release(Op* op);
  int position_of(const Op* op) const;

  Op* parent_op() const { return parent_op_; }  // null for a function body
  Function* parent_function() const;  // the function this block is nested in

 private:
  friend class Op;
  friend class Function;
  std::vector<std::unique_ptr<Value>> args_;
  std::vector<std::unique_ptr<Op>> ops_;
  Op* parent_op_ = nullptr;
  Function* function_ = nullptr;  // set on a function's body block
};

}  // namespace graphc
