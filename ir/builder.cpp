#include "ir/builder.h"

#include <fmt/format.h>

#include "ir/op_registry.h"

namespace graphc {
namespace {

TensorType make_type(DType t, std::initializer_list<Dim> dims) { return TensorType(t, Shape(dims)); }

[[noreturn]] void fail(const std::source_location& w, const std::string& what) {
  throw GraphcError(fmt::format("{}:{}: {}", w.file_name(), w.line(), what));
}

std::vector<Value*> raw(const std::vector<Val>& vs) {
  std::vector<Value*> out;
  for (const Val& v : vs) out.push_back(v.v);
  return out;
}

}  // namespace

TensorType f32(std::initializer_list<Dim> dims) { return make_type(DType::f32, dims); }
TensorType i32(std::initializer_list<Dim> dims) { return make_type(DType::i32, dims); }
TensorType i64(std::initializer_list<Dim> dims) { return make_type(DType::i64, dims); }
TensorType boolean(std::initializer_list<Dim> dims) { return make_type(DType::boolean, dims); }

Val operator+(Val a, Val b) { return a.b->add(a, b); }
Val operator-(Val a, Val b) { return a.b->sub(a, b); }
Val operator*(Val a, Val b) { return a.b->mul(a, b); }
Val operator/(Val a, Val b) { return a.b->div(a, b); }
Val operator-(Val a) { return a.b->neg(a); }

Builder Builder::function(Module& m, std::string name) {
  Function* f = m.add_function(std::move(name));
  return Builder(m, f->body());
}

Val Builder::param(TensorType type, std::string name) {
  if (!block_->parent_function() || block_->parent_op())
    throw GraphcError("param() is only valid on a function's body");
  return wrap(block_->add_arg(std::move(type), std::move(name)));
}

void Builder::ret(const std::vector<Val>& values, Where w) {
  Function* f = block_->parent_function();
  if (!f || block_->parent_op()) fail(w, "ret() is only valid on a function's body");
  std::vector<TensorType> types;
  for (const Val& v : values) types.push_back(v.type());
  f->set_result_types(std::move(types));
  op("return", values, {}, w);
}

Builder Builder::reopen(Module& m, const std::string& function, std::vector<Val>* returned) {
  Function* f = m.function(function);
  if (!f) throw GraphcError("reopen: no function @" + function);
  Block* body = f->body();
  Builder b(m, body);
  if (Op* term = body->terminator()) {
    if (returned)
      for (Value* v : term->operands()) returned->push_back(b.wrap(v));
    body->erase(term);
  }
  return b;
}

Op* Builder::create(const std::string& kind, const std::vector<Val>& operands, AttrMap attrs) {
  const OpDef& def = OpRegistry::instance().get(kind);
  for (const Val& v : operands)
    if (!v.v) throw GraphcError(kind + ": null operand");
  return block_->insert(std::make_unique<Op>(&def, raw(operands), std::move(attrs)));
}

// Infers the results of a fully built op; on failure removes it and throws.
void Builder::finish(Op* op, const Where& w) {
  const OpDef& def = op->def();
  std::string problem = check_signature(*op);
  if (problem.empty()) {
    try {
      Expected<std::vector<TensorType>> types = def.infer(*op);
      if (types.ok())
        for (TensorType& t : *types) op->add_result(std::move(t));
      else
        problem = types.error().message;
    } catch (const std::exception& e) {  // e.g. an attribute of the wrong kind
      problem = e.what();
    }
  }
  if (!problem.empty()) {
    const std::string kind = op->name();
    op->parent_block()->erase(op);
    fail(w, kind + ": " + problem);
  }
}

std::vector<Val> Builder::op(const std::string& kind, const std::vector<Val>& operands, AttrMap attrs, Where w) {
  if (!OpRegistry::instance().find(kind)) fail(w, "unknown op '" + kind + "'");
  Op* o = create(kind, operands, std::move(attrs));
  if (o->def().num_regions != 0) fail(w, kind + " has regions: use loop(), if_() and friends");
  finish(o, w);
  std::vector<Val> out;
  for (const auto& r : o->results()) out.push_back(wrap(r.get()));
  return out;
}

Val Builder::op1(const std::string& kind, const std::vector<Val>& operands, AttrMap attrs, Where w) {
  std::vector<Val> r = op(kind, operands, std::move(attrs), w);
  if (r.size() != 1) fail(w, kind + " does not have exactly one result");
  return r[0];
}

Val Builder::weight(const std::string& name, Where w) { return op1("weight", {}, {{"name", SymbolRef{name}}}, w); }
Val Builder::state_get(const std::string& name, Where w) {
  return op1("state_get", {}, {{"name", SymbolRef{name}}}, w);
}
void Builder::state_set(const std::string& name, Val value, Where w) {
  op("state_set", {value}, {{"name", SymbolRef{name}}}, w);
}

Val Builder::constant(double value, TensorType type, Where w) {
  Attribute v = is_floating(type.dtype) ? Attribute(value) : Attribute(static_cast<int64_t>(value));
  return op1("constant", {}, {{"value", v}, {"shape", type.shape}, {"dtype", type.dtype}}, w);
}

Val Builder::constant(std::vector<double> values, TensorType type, Where w) {
  Attribute v = Attribute(values);
  if (!is_floating(type.dtype)) {
    std::vector<int64_t> ints(values.begin(), values.end());
    v = Attribute(ints);
  }
  return op1("constant", {}, {{"value", v}, {"shape", type.shape}, {"dtype", type.dtype}}, w);
}

Val Builder::scalar(double value, DType t, Where w) { return constant(value, TensorType(t, {}), w); }

Val Builder::iota(Shape shape, int64_t axis, DType t, Where w) {
  return op1("iota", {}, {{"shape", shape}, {"axis", axis}, {"dtype", t}}, w);
}

std::pair<Val, Val> Builder::random_uniform(Val seed, Shape shape, DType t, Where w) {
  std::vector<Val> r = op("random_uniform", {seed}, {{"shape", shape}, {"dtype", t}}, w);
  return {r.at(0), r.at(1)};
}

Val Builder::compare(Val a, const std::string& predicate, Val b, Where w) {
  return op1("compare", {a, b}, {{"predicate", predicate}}, w);
}

Val Builder::reshape(Val x, Shape shape, Where w) { return op1("reshape", {x}, {{"shape", shape}}, w); }
Val Builder::transpose(Val x, std::vector<int64_t> perm, Where w) {
  return op1("transpose", {x}, {{"perm", perm}}, w);
}
Val Builder::broadcast(Val x, Shape shape, Where w) { return op1("broadcast", {x}, {{"shape", shape}}, w); }
Val Builder::slice(Val x, std::vector<int64_t> start, Shape limit, std::vector<int64_t> stride,
                   Where w) {
  AttrMap attrs{{"start", start}, {"limit", limit}};
  if (!stride.empty()) attrs.emplace("stride", stride);
  return op1("slice", {x}, std::move(attrs), w);
}
Val Builder::concat(const std::vector<Val>& xs, int64_t axis, Where w) {
  return op1("concat", xs, {{"axis", axis}}, w);
}
Val Builder::dynamic_slice(Val x, const std::vector<Val>& start, std::vector<int64_t> sizes, Where w) {
  std::vector<Val> operands{x};
  operands.insert(operands.end(), start.begin(), start.end());
  return op1("dynamic_slice", operands, {{"sizes", sizes}}, w);
}
Val Builder::dynamic_update_slice(Val x, Val update, const std::vector<Val>& start, Where w) {
  std::vector<Val> operands{x, update};
  operands.insert(operands.end(), start.begin(), start.end());
  return op1("dynamic_update_slice", operands, {}, w);
}
Val Builder::gather(Val table, Val indices, int64_t axis, Where w) {
  return op1("gather", {table, indices}, {{"axis", axis}}, w);
}

Val Builder::scatter_add(Val base, Val indices, Val updates, Where w) {
  return op1("scatter_add", {base, indices, updates}, {}, w);
}

Val Builder::reduce(Val x, const std::string& kind, std::vector<int64_t> axes, bool keepdims, Where w) {
  return op1("reduce", {x}, {{"kind", kind}, {"axes", axes}, {"keepdims", keepdims}}, w);
}
Val Builder::matmul(Val a, Val b, bool transpose_a, bool transpose_b, Where w) {
  AttrMap attrs;
  if (transpose_a) attrs.emplace("transpose_a", true);
  if (transpose_b) attrs.emplace("transpose_b", true);
  return op1("matmul", {a, b}, std::move(attrs), w);
}
Val Builder::softmax(Val x, int64_t axis, Where w) { return op1("softmax", {x}, {{"axis", axis}}, w); }
Val Builder::argmax(Val x, int64_t axis, Where w) { return op1("argmax", {x}, {{"axis", axis}}, w); }
std::pair<Val, Val> Builder::topk(Val x, int64_t k, Where w) {
  std::vector<Val> r = op("topk", {x}, {{"k", k}}, w);
  return {r.at(0), r.at(1)};
}
Val Builder::cumsum(Val x, int64_t axis, Where w) { return op1("cumsum", {x}, {{"axis", axis}}, w); }

std::vector<Val> Builder::loop(Val trip_count, const std::vector<Val>& init, const LoopBody& body, bool has_exit,
                               Where w) {
  std::vector<Val> operands{trip_count};
  operands.insert(operands.end(), init.begin(), init.end());
  AttrMap attrs;
  if (has_exit) attrs.emplace("has_exit", true);
  Op* o = create("loop", operands, std::move(attrs));
  Block* region = o->add_region();
  Builder inner(*module_, region);
  Val index = inner.wrap(region->add_arg(TensorType(DType::i64, {}), "i"));
  std::vector<Val> carried;
  for (const Val& v : init) carried.push_back(inner.wrap(region->add_arg(v.type())));
  std::vector<Val> next = body(inner, index, carried);
  inner.op("yield", next, {}, w);
  finish(o, w);
  std::vector<Val> out;
  for (const auto& r : o->results()) out.push_back(wrap(r.get()));
  return out;
}

std::vector<Val> Builder::if_(Val cond, const Branch& then_branch, const Branch& else_branch, Where w) {
  Op* o = create("if", {cond}, {});
  for (const Branch* branch : {&then_branch, &else_branch}) {
    Builder inner(*module_, o->add_region());
    inner.op("yield", (*branch)(inner), {}, w);
  }
  finish(o, w);
  std::vector<Val> out;
  for (const auto& r : o->results()) out.push_back(wrap(r.get()));
  return out;
}

std::vector<Val> Builder::call(const std::string& callee, const std::vector<Val>& args, Where w) {
  return op("call", args, {{"callee", SymbolRef{callee}}}, w);
}

}  // namespace graphc
