// Gradient rules: for each differentiable op kind, how the gradients of its
// operands follow from the gradients of its results (reverse mode). A rule
// writes the backward computation with the builder, as ordinary ops, so the
// reference interpreter defines it and every backend runs it.
//
// Rules are registered by op name, one file per op family
// (passes/gradients/<family>_gradients.cpp), mirroring ir/ops/. Ops whose
// results are integers or booleans (compare, iota, argmax, ...) need no rule:
// nothing flows back through them.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ir/builder.h"

namespace graphc {

struct GradientContext {
  Builder& b;
  const Op& op;                      // the forward op
  std::vector<Val> operands;         // its operands
  std::vector<Val> results;          // its results
  std::vector<Val> result_grads;     // per result; a null Val means zero
  std::vector<bool> operand_needed;  // per operand: does anything want its gradient?

  Val grad(int result = 0) const { return result_grads.at(result); }
  bool needed(int operand) const { return operand_needed.at(operand); }
  // A scalar constant of `like`'s dtype.
  Val scalar(double v, Val like) const;
  // Zeros of `like`'s type.
  Val zeros(Val like) const;
};

// Returns one gradient per operand, each with that operand's type, or a null
// Val where the operand gets none (not needed, or not differentiable).
using GradientRule = std::function<std::vector<Val>(const GradientContext&)>;

class GradientRules {
 public:
  static const GradientRules& instance();
  void add(std::string op_name, GradientRule rule);
  const GradientRule* find(std::string_view op_name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, GradientRule, std::less<>> rules_;
};

void register_elementwise_gradients(GradientRules& r);
void register_shape_gradients(GradientRules& r);
void register_reduction_gradients(GradientRules& r);
void register_linalg_gradients(GradientRules& r);

// Sums `g` over the dims a numpy-style broadcast added or stretched, so that
// it gets `target`'s shape: the gradient of a broadcast operand.
Val unbroadcast(Builder& b, Val g, const Shape& target);

}  // namespace graphc
