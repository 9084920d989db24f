// Structured control flow: loop, if, call, and the terminators return/yield.
//
//   %r... = loop %trip_count, %init... {has_exit = b} : types {
//   ^(%i: i64[], %carried...):
//     ...
//     yield [%exit,] %next...
//   }
// runs the body at most trip_count times with i = 0, 1, ...; the carried
// values flow from one iteration to the next and the results are their final
// values. With has_exit = true the body first yields a bool scalar; when it is
// true the loop stops after that iteration.
//
//   %r... = if %cond : types { ^(): ... yield %a... } { ^(): ... yield %b... }
//
// Regions may use values defined outside them (implicit capture).
#include "ir/module.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

bool is_scalar_of(const TensorType& t, std::initializer_list<DType> dtypes) {
  if (t.rank() != 0) return false;
  for (DType d : dtypes)
    if (t.dtype == d) return true;
  return false;
}

std::string types_str(const std::vector<TensorType>& ts) {
  std::string out = "(";
  for (size_t i = 0; i < ts.size(); ++i) out += (i ? ", " : "") + ts[i].str();
  return out + ")";
}

std::vector<TensorType> operand_types(const Op& op, int from = 0) {
  std::vector<TensorType> out;
  for (int i = from; i < op.num_operands(); ++i) out.push_back(op.operand(i)->type());
  return out;
}

Expected<std::vector<TensorType>> yield_types(const Block& b, const char* what) {
  Op* t = b.terminator();
  if (!t || t->name() != "yield") return infer_error(std::string(what) + " region must end with yield");
  return operand_types(*t);
}

Expected<std::vector<TensorType>> infer_loop(const Op& op) {
  if (!is_scalar_of(op.operand(0)->type(), {DType::i32, DType::i64}))
    return infer_error("trip count must be an i32 or i64 scalar, got " + op.operand(0)->type().str());
  const std::vector<TensorType> carried = operand_types(op, 1);
  const Block& body = *op.region(0);
  std::vector<TensorType> expected_args{TensorType(DType::i64, {})};
  expected_args.insert(expected_args.end(), carried.begin(), carried.end());
  std::vector<TensorType> args;
  for (const auto& a : body.args()) args.push_back(a->type());
  if (args != expected_args)
    return infer_error("body arguments " + types_str(args) + " do not match (i64[], carried...) = " +
                       types_str(expected_args));
  auto yielded = yield_types(body, "loop body");
  if (!yielded.ok()) return yielded.error();
  std::vector<TensorType> expected_yield;
  if (op.attr_bool("has_exit")) expected_yield.push_back(TensorType(DType::boolean, {}));
  expected_yield.insert(expected_yield.end(), carried.begin(), carried.end());
  if (*yielded != expected_yield)
    return infer_error("body yields " + types_str(*yielded) + " but the loop expects " +
                       types_str(expected_yield));
  return carried;
}

Expected<std::vector<TensorType>> infer_if(const Op& op) {
  if (!is_scalar_of(op.operand(0)->type(), {DType::boolean}))
    return infer_error("condition must be a bool scalar, got " + op.operand(0)->type().str());
  for (int r = 0; r < 2; ++r)
    if (op.region(r)->num_args() != 0) return infer_error("if regions take no arguments");
  auto then_types = yield_types(*op.region(0), "then");
  if (!then_types.ok()) return then_types.error();
  auto else_types = yield_types(*op.region(1), "else");
  if (!else_types.ok()) return else_types.error();
  if (*then_types != *else_types)
    return infer_error("then yields " + types_str(*then_types) + " but else yields " + types_str(*else_types));
  return *then_types;
}

// Binds the callee's symbolic dims to the caller's dims (a dim or a symbol).
Expected<std::vector<TensorType>> infer_call(const Op& op) {
  const Module* m = op.parent_module();
  const std::string& callee = op.attr("callee").as_symbol();
  const Function* f = m ? m->function(callee) : nullptr;
  if (!f) return infer_error("unknown function @" + callee);
  if (f->num_params() != op.num_operands())
    return infer_error("@" + callee + " takes " + std::to_string(f->num_params()) + " arguments, " +
                       std::to_string(op.num_operands()) + " given");
  std::map<std::string, Dim> bound;
  for (int i = 0; i < op.num_operands(); ++i) {
    const TensorType& p = f->param(i)->type();
    const TensorType& a = op.operand(i)->type();
    bool ok = p.dtype == a.dtype && p.rank() == a.rank();
    for (int d = 0; ok && d < p.rank(); ++d) {
      if (p.shape[d].is_static()) {
        ok = p.shape[d] == a.shape[d];
      } else {
        auto [it, inserted] = bound.emplace(p.shape[d].symbol, a.shape[d]);
        ok = inserted || it->second == a.shape[d];
      }
    }
    if (!ok)
      return infer_error("argument " + std::to_string(i) + " of @" + callee + " is " + a.str() +
                         ", expected " + p.str());
  }
  std::vector<TensorType> results = f->result_types();
  for (TensorType& t : results)
    for (Dim& d : t.shape)
      if (d.is_symbolic()) {
        auto it = bound.find(d.symbol);
        if (it == bound.end())
          return infer_error("result dim '" + d.symbol + "' of @" + callee + " is not bound by its arguments");
        d = it->second;
      }
  return results;
}

Expected<std::vector<TensorType>> no_results(const Op&) { return std::vector<TensorType>{}; }

}  // namespace

void register_control_flow_ops(OpRegistry& r) {
  r.add(OpDef{.name = "loop",
              .summary = "counted loop with carried values and an optional early exit",
              .min_operands = 1,
              .max_operands = OpDef::kVariadic,
              .attrs = {{"has_exit", AttrKind::Bool, Attribute(false),
                         "the body yields a bool first; true stops the loop"}},
              .num_regions = 1,
              .infer = infer_loop});
  r.add(OpDef{.name = "if",
              .summary = "runs the then or the else region",
              .min_operands = 1,
              .max_operands = 1,
              .num_regions = 2,
              .infer = infer_if});
  r.add(OpDef{.name = "call",
              .summary = "calls a function of the module",
              .min_operands = 0,
              .max_operands = OpDef::kVariadic,
              .attrs = {{"callee", AttrKind::Symbol, std::nullopt, "the function"}},
              // A callee may set state, so calls are never removed or merged.
              .has_side_effects = true,
              .infer = infer_call});
  r.add(OpDef{.name = "return",
              .summary = "returns from the function",
              .min_operands = 0,
              .max_operands = OpDef::kVariadic,
              .is_terminator = true,
              .infer = no_results});
  r.add(OpDef{.name = "yield",
              .summary = "ends a region, passing values to the op that owns it",
              .min_operands = 0,
              .max_operands = OpDef::kVariadic,
              .is_terminator = true,
              .infer = no_results});
}

}  // namespace graphc
