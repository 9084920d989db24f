// The builder: a pleasant way to write programs in C++.
//
//   Module m("mlp");
//   m.add_global(GlobalKind::Weight, "w1", {DType::f32, {4, 8}});
//   Builder b = Builder::function(m, "forward");
//   Val x = b.param(f32(sym("batch"), 4), "x");
//   Val h = b.tanh(b.matmul(x, b.weight("w1")));
//   b.ret({h});
//
// Result types are inferred; names are optional; a bad call throws a
// GraphcError naming the op and the caller's file and line.
#pragma once

#include <functional>
#include <initializer_list>
#include <source_location>
#include <string>
#include <vector>

#include "ir/module.h"

namespace graphc {

// A value handle with arithmetic operators; it knows its builder so that
// `a + b` can insert an op.
class Builder;
struct Val {
  Value* v = nullptr;
  Builder* b = nullptr;
  Value* operator->() const { return v; }
  operator Value*() const { return v; }  // NOLINT: handles pass where values are expected
  const TensorType& type() const { return v->type(); }
  const Shape& shape() const { return v->shape(); }
  Val named(std::string name) const {
    v->set_name(std::move(name));
    return *this;
  }
};

Val operator+(Val a, Val b);
Val operator-(Val a, Val b);
Val operator*(Val a, Val b);
Val operator/(Val a, Val b);
Val operator-(Val a);

inline Dim sym(std::string name) { return Dim::sym(std::move(name)); }
TensorType f32(std::initializer_list<Dim> dims = {});
TensorType i32(std::initializer_list<Dim> dims = {});
TensorType i64(std::initializer_list<Dim> dims = {});
TensorType boolean(std::initializer_list<Dim> dims = {});

class Builder {
 public:
  using Where = std::source_location;

  // Starts a new function in `m`, or appends to an existing block.
  static Builder function(Module& m, std::string name);
  Builder(Module& m, Block* block) : module_(&m), block_(block) {}
  // Continues a finished function: removes its `return` (handing back the
  // values it returned in `returned`), so that more ops can be appended and
  // ret() called again. A pass may have changed the body in between.
  static Builder reopen(Module& m, const std::string& function, std::vector<Val>* returned = nullptr);

  Module& module() const { return *module_; }
  Block* block() const { return block_; }

  Val param(TensorType type, std::string name = {});
  // Ends the function: a `return` and the function's result types.
  void ret(const std::vector<Val>& values, Where w = Where::current());

  // Any registered op: creates it, infers its results, checks it.
  std::vector<Val> op(const std::string& kind, const std::vector<Val>& operands, AttrMap attrs = {},
                      Where w = Where::current());
  Val op1(const std::string& kind, const std::vector<Val>& operands, AttrMap attrs = {},
          Where w = Where::current());

  // Globals.
  Val weight(const std::string& name, Where w = Where::current());
  Val state_get(const std::string& name, Where w = Where::current());
  void state_set(const std::string& name, Val value, Where w = Where::current());

  // Constants and generators.
  Val constant(double value, TensorType type, Where w = Where::current());  // a splat
  Val constant(std::vector<double> values, TensorType type, Where w = Where::current());
  Val scalar(double value, DType t = DType::f32, Where w = Where::current());
  Val iota(Shape shape, int64_t axis, DType t = DType::i32, Where w = Where::current());
  // Uniform [0, 1) values and the next seed: counter-based, reproducible.
  std::pair<Val, Val> random_uniform(Val seed, Shape shape, DType t = DType::f32, Where w = Where::current());

  // Elementwise.
  Val neg(Val x, Where w = Where::current()) { return op1("neg", {x}, {}, w); }
  Val abs(Val x, Where w = Where::current()) { return op1("abs", {x}, {}, w); }
  Val exp(Val x, Where w = Where::current()) { return op1("exp", {x}, {}, w); }
  Val log(Val x, Where w = Where::current()) { return op1("log", {x}, {}, w); }
  Val tanh(Val x, Where w = Where::current()) { return op1("tanh", {x}, {}, w); }
  Val sqrt(Val x, Where w = Where::current()) { return op1("sqrt", {x}, {}, w); }
  Val rsqrt(Val x, Where w = Where::current()) { return op1("rsqrt", {x}, {}, w); }
  Val sin(Val x, Where w = Where::current()) { return op1("sin", {x}, {}, w); }
  Val cos(Val x, Where w = Where::current()) { return op1("cos", {x}, {}, w); }
  Val add(Val a, Val b, Where w = Where::current()) { return op1("add", {a, b}, {}, w); }
  Val sub(Val a, Val b, Where w = Where::current()) { return op1("sub", {a, b}, {}, w); }
  Val mul(Val a, Val b, Where w = Where::current()) { return op1("mul", {a, b}, {}, w); }
  Val div(Val a, Val b, Where w = Where::current()) { return op1("div", {a, b}, {}, w); }
  Val pow(Val a, Val b, Where w = Where::current()) { return op1("pow", {a, b}, {}, w); }
  Val max(Val a, Val b, Where w = Where::current()) { return op1("max", {a, b}, {}, w); }
  Val min(Val a, Val b, Where w = Where::current()) { return op1("min", {a, b}, {}, w); }
  // predicate: eq, ne, lt, le, gt, ge
  Val compare(Val a, const std::string& predicate, Val b, Where w = Where::current());
  Val select(Val cond, Val a, Val b, Where w = Where::current()) { return op1("select", {cond, a, b}, {}, w); }
  Val cast(Val x, DType to, Where w = Where::current()) { return op1("cast", {x}, {{"to", to}}, w); }

  // Shapes.
  Val reshape(Val x, Shape shape, Where w = Where::current());  // one dim may be -1
  Val transpose(Val x, std::vector<int64_t> perm, Where w = Where::current());
  Val broadcast(Val x, Shape shape, Where w = Where::current());
  Val slice(Val x, std::vector<int64_t> start, Shape limit, std::vector<int64_t> stride = {},
            Where w = Where::current());
  Val concat(const std::vector<Val>& xs, int64_t axis, Where w = Where::current());
  Val dynamic_slice(Val x, const std::vector<Val>& start, std::vector<int64_t> sizes, Where w = Where::current());
  Val dynamic_update_slice(Val x, Val update, const std::vector<Val>& start, Where w = Where::current());
  Val gather(Val table, Val indices, int64_t axis = 0, Where w = Where::current());
  // base with updates[j...] added to rows indices[j...] of axis 0.
  Val scatter_add(Val base, Val indices, Val updates, Where w = Where::current());

  // Reductions and linear algebra.
  Val reduce(Val x, const std::string& kind, std::vector<int64_t> axes, bool keepdims = false,
             Where w = Where::current());  // kind: sum, mean, max
  Val sum(Val x, std::vector<int64_t> axes, bool keepdims = false, Where w = Where::current()) {
    return reduce(x, "sum", std::move(axes), keepdims, w);
  }
  Val mean(Val x, std::vector<int64_t> axes, bool keepdims = false, Where w = Where::current()) {
    return reduce(x, "mean", std::move(axes), keepdims, w);
  }
  Val matmul(Val a, Val b, bool transpose_a = false, bool transpose_b = false, Where w = Where::current());
  Val softmax(Val x, int64_t axis = -1, Where w = Where::current());
  Val argmax(Val x, int64_t axis = -1, Where w = Where::current());
  std::pair<Val, Val> topk(Val x, int64_t k, Where w = Where::current());  // values, indices
  Val cumsum(Val x, int64_t axis, Where w = Where::current());

  // Control flow. The body builder gets the iteration index and the carried
  // values and returns [exit condition if has_exit,] the next carried values.
  using LoopBody = std::function<std::vector<Val>(Builder& body, Val index, const std::vector<Val>& carried)>;
  std::vector<Val> loop(Val trip_count, const std::vector<Val>& init, const LoopBody& body,
                        bool has_exit = false, Where w = Where::current());
  using Branch = std::function<std::vector<Val>(Builder& region)>;
  std::vector<Val> if_(Val cond, const Branch& then_branch, const Branch& else_branch,
                       Where w = Where::current());
  std::vector<Val> call(const std::string& callee, const std::vector<Val>& args, Where w = Where::current());

  Val wrap(Value* v) { return Val{v, this}; }

 private:
  Op* create(const std::string& kind, const std::vector<Val>& operands, AttrMap attrs);
  void finish(Op* op, const Where& w);
  Module* module_;
  Block* block_;
};

}  // namespace graphc
