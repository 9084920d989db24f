// An operation: kind (from the op registry), operands, attributes, results
// and nested regions. The op owns its results and regions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/attribute.h"
#include "ir/block.h"
#include "ir/value.h"

namespace graphc {

struct OpDef;
class Module;

class Op {
 public:
  Op(const OpDef* def, std::vector<Value*> operands, AttrMap attrs = {});
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;

  const OpDef& def() const { return *def_; }
  const std::string& name() const;  // the op kind, e.g. "matmul"

  const std::vector<Value*>& operands() const { return operands_; }
  Value* operand(int i) const { return operands_.at(i); }
  int num_operands() const { return static_cast<int>(operands_.size()); }
  void set_operand(int i, Value* v) { operands_.at(i) = v; }
  void set_operands(std::vector<Value*> vs) { operands_ = std::move(vs); }

  const std::vector<std::unique_ptr<Value>>& results() const { return results_; }
  Value* result(int i = 0) const { return results_.at(i).get(); }
  int num_results() const { return static_cast<int>(results_.size()); }
  Value* add_result(TensorType type, std::string name = {});

  const AttrMap& attrs() const { return attrs_; }
  AttrMap& mutable_attrs() { return attrs_; }
  bool has_attr(const std::string& k) const { return attrs_.count(k) != 0; }
  // Looks up an attribute, falling back to the default in the op's definition.
  // Throws GraphcError if it is neither present nor defaulted.
  const Attribute& attr(const std::string& k) const;
  int64_t attr_int(const std::string& k) const { return attr(k).as_int(); }
  double attr_float(const std::string& k) const { return attr(k).as_float(); }
  bool attr_bool(const std::string& k) const { return attr(k).as_bool(); }
  const std::string& attr_string(const std::string& k) const { return attr(k).as_string(); }
  std::vector<int64_t> attr_ints(const std::string& k) const { return attr(k).as_ints(); }
  void set_attr(const std::string& k, Attribute v) { attrs_.insert_or_assign(k, std::move(v)); }

  const std::vector<std::unique_ptr<Block>>& regions() const { return regions_; }
  Block* region(int i) const { return regions_.at(i).get(); }
  int num_regions() const { return static_cast<int>(regions_.size()); }
  Block* add_region();

  Block* parent_block() const { return parent_; }
  Function* parent_function() const;
  Module* parent_module() const;

  // Line of this op in the text it was parsed from (0: built in C++).
  int line() const { return line_; }
  void set_line(int line) { line_ = line; }

 private:
  friend class Block;
  const OpDef* def_;
  std::vector<Value*> operands_;
  AttrMap attrs_;
  std::vector<std::unique_ptr<Value>> results_;
  std::vector<std::unique_ptr<Block>> regions_;
  Block* parent_ = nullptr;
  int line_ = 0;
};

}  // namespace graphc
