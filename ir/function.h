// A function: typed parameters (the body block's arguments), result types and
// a body that ends in `return`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/block.h"
#include "ir/type.h"

namespace graphc {

class Module;

class Function {
 public:
  explicit Function(std::string name);

  const std::string& name() const { return name_; }
  Block* body() const { return body_.get(); }
  Value* param(int i) const { return body_->arg(i); }
  int num_params() const { return body_->num_args(); }
  Value* add_param(TensorType type, std::string name = {}) {
    return body_->add_arg(std::move(type), std::move(name));
  }

  const std::vector<TensorType>& result_types() const { return result_types_; }
  void set_result_types(std::vector<TensorType> types) { result_types_ = std::move(types); }

  Module* parent_module() const { return module_; }
  int line() const { return line_; }
  void set_line(int line) { line_ = line; }

 private:
  friend class Module;
  std::string name_;
  std::unique_ptr<Block> body_;
  std::vector<TensorType> result_types_;
  Module* module_ = nullptr;
  int line_ = 0;
};

}  // namespace graphc
