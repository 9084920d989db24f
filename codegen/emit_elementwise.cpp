// Elementwise kernels as LLVM IR: a loop over rows, and in each row a loop the
// vectoriser turns into host-width vector code, evaluating the expression on
// every element. Floats compute in f32 (bf16/f16 are widened on load and
// rounded on store), integers in i64 (narrowed on store, which wraps as the
// reference does), bools as i1.
#include <fmt/format.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include "codegen/llvm_emit.h"

namespace graphc {
namespace {

using llvm::IRBuilder;
using llvm::Type;


Type* storage_type(llvm::LLVMContext& c, DType t) {
  switch (t) {
    case DType::f32: return Type::getFloatTy(c);
    case DType::bf16: return Type::getBFloatTy(c);
    case DType::f16: return Type::getHalfTy(c);
    case DType::i32: return Type::getInt32Ty(c);
    case DType::i64: return Type::getInt64Ty(c);
    case DType::boolean: return Type::getInt8Ty(c);
    case DType::f64: return Type::getDoubleTy(c);
  }
  return nullptr;
}

// Loads one element and widens it to its compute type.
llvm::Value* load_element(IRBuilder<>& b, DType t, llvm::Value* ptr) {
  llvm::Value* v = b.CreateLoad(storage_type(b.getContext(), t), ptr);
  if (t == DType::bf16 || t == DType::f16) return b.CreateFPExt(v, b.getFloatTy());
  if (t == DType::i32) return b.CreateSExt(v, b.getInt64Ty());
  if (t == DType::boolean) return b.CreateICmpNE(v, b.getInt8(0));
  return v;
}

llvm::Value* narrow(IRBuilder<>& b, DType t, llvm::Value* v) {
  if (t == DType::bf16 || t == DType::f16) return b.CreateFPTrunc(v, storage_type(b.getContext(), t));
  if (t == DType::i32) return b.CreateTrunc(v, b.getInt32Ty());
  if (t == DType::boolean) return b.CreateZExt(v, b.getInt8Ty());
  return v;
}

// Rounds a float value to `t`'s precision (what storing and reloading would do).
llvm::Value* round_float(IRBuilder<>& b, DType t, llvm::Value* v) {
  if (t != DType::bf16 && t != DType::f16) return v;
  return b.CreateFPExt(narrow(b, t, v), b.getFloatTy());
}

class ExpressionEmitter {
 public:
  ExpressionEmitter(llvm::Module& m, IRBuilder<>& b) : m_(m), b_(b) {}

  llvm::Value* unary_intrinsic(llvm::Intrinsic::ID id, llvm::Value* x) {
    return b_.CreateUnaryIntrinsic(id, x);
  }
  llvm::Value* libm(const char* name, llvm::Value* x) {
    llvm::FunctionCallee f = m_.getOrInsertFunction(name, b_.getFloatTy(), b_.getFloatTy());
    return b_.CreateCall(f, {x});
  }

  llvm::Value* node(const ElementwiseKernel::Node& n, const std::vector<llvm::Value*>& v, const std::vector<DType>& dt) {
    const std::string& op = n.op;
    auto a = [&](int i) { return v[n.args[i]]; };
    const bool fl = !n.args.empty() && is_floating(dt[n.args[0]]);
    if (op == "copy") return a(0);
    if (op == "constant") {
      if (is_floating(n.dtype)) return llvm::ConstantFP::get(b_.getFloatTy(), round_to_dtype(float(n.value), n.dtype));
      if (is_integer(n.dtype)) return b_.getInt64(static_cast<int64_t>(n.value));
      return b_.getInt1(n.value != 0);
    }
    if (op == "neg") return fl ? b_.CreateFNeg(a(0)) : b_.CreateSub(b_.getInt64(0), a(0));
    if (op == "abs") {
      if (fl) return unary_intrinsic(llvm::Intrinsic::fabs, a(0));
      return b_.CreateSelect(b_.CreateICmpSLT(a(0), b_.getInt64(0)), b_.CreateSub(b_.getInt64(0), a(0)), a(0));
    }
    if (op == "exp") return unary_intrinsic(llvm::Intrinsic::exp, a(0));
    if (op == "log") return unary_intrinsic(llvm::Intrinsic::log, a(0));
    if (op == "sin") return unary_intrinsic(llvm::Intrinsic::sin, a(0));
    if (op == "cos") return unary_intrinsic(llvm::Intrinsic::cos, a(0));
    if (op == "sqrt") return unary_intrinsic(llvm::Intrinsic::sqrt, a(0));
    if (op == "rsqrt")
      return b_.CreateFDiv(llvm::ConstantFP::get(b_.getFloatTy(), 1.0), unary_intrinsic(llvm::Intrinsic::sqrt, a(0)));
    if (op == "tanh") return libm("tanhf", a(0));
    if (op == "add") return fl ? b_.CreateFAdd(a(0), a(1)) : b_.CreateAdd(a(0), a(1));
    if (op == "sub") return fl ? b_.CreateFSub(a(0), a(1)) : b_.CreateSub(a(0), a(1));
    if (op == "mul") return fl ? b_.CreateFMul(a(0), a(1)) : b_.CreateMul(a(0), a(1));
    if (op == "div") {
      if (fl) return b_.CreateFDiv(a(0), a(1));
      // Division by 0 gives 0 and INT64_MIN / -1 wraps, instead of trapping
      // (the reference interpreter reports division by zero as an error).
      llvm::Value* zero = b_.CreateICmpEQ(a(1), b_.getInt64(0));
      llvm::Value* minus_one = b_.CreateICmpEQ(a(1), b_.getInt64(-1));
      llvm::Value* safe = b_.CreateSelect(b_.CreateOr(zero, minus_one), b_.getInt64(1), a(1));
      llvm::Value* q = b_.CreateSDiv(a(0), safe);
      q = b_.CreateSelect(minus_one, b_.CreateSub(b_.getInt64(0), a(0)), q);
      return b_.CreateSelect(zero, b_.getInt64(0), q);
    }
    if (op == "max" || op == "min") {
      if (!fl) return op == "max" ? b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, a(0), a(1))
                                  : b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, a(0), a(1));
      // NaN in the first operand wins, as in the reference.
      llvm::Value* nan = b_.CreateFCmpUNO(a(0), a(0));
      llvm::Value* better = op == "max" ? b_.CreateFCmpOGT(a(0), a(1)) : b_.CreateFCmpOLT(a(0), a(1));
      return b_.CreateSelect(b_.CreateOr(nan, better), a(0), a(1));
    }
    if (op == "pow") return b_.CreateBinaryIntrinsic(llvm::Intrinsic::pow, a(0), a(1));
    if (op == "compare") return compare(n.predicate, a(0), a(1), dt[n.args[0]], dt[n.args[1]]);
    if (op == "select") return b_.CreateSelect(a(0), a(1), a(2));
    if (op == "cast") return cast(a(0), dt[n.args[0]], n.dtype);
    throw GraphcError("no elementwise code generation for '" + op + "'");
  }

 private:
  llvm::Value* as_float(llvm::Value* x, DType t) {
    if (is_floating(t)) return x;
    if (is_integer(t)) return b_.CreateSIToFP(x, b_.getFloatTy());
    return b_.CreateUIToFP(x, b_.getFloatTy());
  }

  llvm::Value* compare(const std::string& p, llvm::Value* x, llvm::Value* y, DType tx, DType ty) {
    using P = llvm::CmpInst::Predicate;
    if (!is_floating(tx) && !is_floating(ty)) {
      if (tx == DType::boolean) x = b_.CreateZExt(x, b_.getInt64Ty());
      if (ty == DType::boolean) y = b_.CreateZExt(y, b_.getInt64Ty());
      P pred = p == "eq" ? P::ICMP_EQ : p == "ne" ? P::ICMP_NE : p == "lt" ? P::ICMP_SLT
             : p == "le" ? P::ICMP_SLE : p == "gt" ? P::ICMP_SGT : P::ICMP_SGE;
      return b_.CreateICmp(pred, x, y);
    }
    // "ne" is true for NaN, the others false (C++ semantics).
    P pred = p == "eq" ? P::FCMP_OEQ : p == "ne" ? P::FCMP_UNE : p == "lt" ? P::FCMP_OLT
           : p == "le" ? P::FCMP_OLE : p == "gt" ? P::FCMP_OGT : P::FCMP_OGE;
    return b_.CreateFCmp(pred, as_float(x, tx), as_float(y, ty));
  }

  llvm::Value* cast(llvm::Value* x, DType from, DType to) {
    if (is_floating(to)) return round_float(b_, to, as_float(x, from));
    if (to == DType::boolean) {
      if (is_floating(from)) return b_.CreateFCmpUNE(x, llvm::ConstantFP::get(b_.getFloatTy(), 0.0));
      if (is_integer(from)) return b_.CreateICmpNE(x, b_.getInt64(0));
      return x;
    }
    // To an integer: floats truncate toward zero and saturate (NaN -> 0).
    if (is_floating(from)) {
      Type* target = to == DType::i32 ? b_.getInt32Ty() : b_.getInt64Ty();
      llvm::Value* r = b_.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {target, b_.getFloatTy()}, {x});
      return to == DType::i32 ? b_.CreateSExt(r, b_.getInt64Ty()) : r;
    }
    if (from == DType::boolean) return b_.CreateZExt(x, b_.getInt64Ty());
    if (to == DType::i32) return b_.CreateSExt(b_.CreateTrunc(x, b_.getInt32Ty()), b_.getInt64Ty());
    return x;
  }

  llvm::Module& m_;
  IRBuilder<>& b_;
};

}  // namespace

llvm::Function* emit_elementwise(llvm::Module& m, const ElementwiseKernel& k, const std::string& name) {
  llvm::LLVMContext& c = m.getContext();
  IRBuilder<> b(c);
  Type* ptr = b.getPtrTy();
  Type* i64 = b.getInt64Ty();
  auto* fn_type = llvm::FunctionType::get(b.getVoidTy(), {ptr, i64, i64}, false);
  auto* fn = llvm::Function::Create(fn_type, llvm::Function::ExternalLinkage, name, m);
  llvm::Value* buffers = fn->getArg(0);
  llvm::Value* begin = fn->getArg(1);
  llvm::Value* end = fn->getArg(2);

  const int rank = static_cast<int>(k.output.shape.size());
  const int64_t row_len = k.row_len();
  const int lead = rank - k.row_dims();  // dims outside a row
  // Element strides of each input over the output's dims (0 where broadcast).
  std::vector<std::vector<int64_t>> strides(k.inputs.size(), std::vector<int64_t>(rank, 0));
  for (size_t i = 0; i < k.inputs.size(); ++i) {
    const auto& s = k.inputs[i].shape;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int kd = d - (rank - static_cast<int>(s.size()));
      const int64_t n = kd < 0 ? 1 : s[kd];
      strides[i][d] = n == 1 ? 0 : stride;
      stride *= n;
    }
  }
  // Within a row every input is either contiguous (it has all the row's
  // dims, which are its trailing dims) or constant (it has none of them).
  std::vector<int64_t> inner_stride(k.inputs.size(), 0);
  for (size_t i = 0; i < k.inputs.size(); ++i) {
    int64_t in_row = 1;
    for (int d = lead; d < rank; ++d) in_row *= strides[i][d] != 0 ? k.output.shape[d] : 1;
    inner_stride[i] = in_row == row_len && row_len > 1 ? 1 : 0;
  }

  auto* entry = llvm::BasicBlock::Create(c, "entry", fn);
  auto* row_head = llvm::BasicBlock::Create(c, "row", fn);
  auto* elem_loop = llvm::BasicBlock::Create(c, "elem", fn);
  auto* row_end = llvm::BasicBlock::Create(c, "row.end", fn);
  auto* exit = llvm::BasicBlock::Create(c, "exit", fn);

  b.SetInsertPoint(entry);
  std::vector<llvm::Value*> in_ptr;
  for (size_t i = 0; i <= k.inputs.size(); ++i)
    in_ptr.push_back(b.CreateLoad(ptr, b.CreateConstGEP1_64(ptr, buffers, i)));
  llvm::Value* out_ptr = in_ptr.back();
  in_ptr.pop_back();
  b.CreateCondBr(b.CreateICmpSLT(begin, end), row_head, exit);

  b.SetInsertPoint(row_head);
  llvm::PHINode* row = b.CreatePHI(i64, 2, "r");
  row->addIncoming(begin, entry);
  // Each input's offset at the start of this row, from the row's index over
  // the leading dims.
  std::vector<llvm::Value*> base(k.inputs.size(), b.getInt64(0));
  llvm::Value* rest = row;
  for (int d = lead - 1; d >= 0; --d) {
    const int64_t n = k.output.shape[d];
    llvm::Value* idx = b.CreateURem(rest, b.getInt64(n));
    rest = b.CreateUDiv(rest, b.getInt64(n));
    for (size_t i = 0; i < k.inputs.size(); ++i)
      if (strides[i][d] != 0) base[i] = b.CreateAdd(base[i], b.CreateMul(idx, b.getInt64(strides[i][d])));
  }
  llvm::Value* out_base = b.CreateMul(row, b.getInt64(row_len));
  b.CreateBr(elem_loop);

  b.SetInsertPoint(elem_loop);
  llvm::PHINode* j = b.CreatePHI(i64, 2, "j");
  j->addIncoming(b.getInt64(0), row_head);
  std::vector<llvm::Value*> values;
  std::vector<DType> dtypes;
  ExpressionEmitter expr(m, b);
  for (const ElementwiseKernel::Node& n : k.nodes) {
    llvm::Value* v;
    if (n.op == "input") {
      const int i = n.input;
      llvm::Value* at = inner_stride[i] ? b.CreateAdd(base[i], j) : base[i];
      Type* st = storage_type(c, k.inputs[i].dtype);
      v = load_element(b, k.inputs[i].dtype, b.CreateInBoundsGEP(st, in_ptr[i], at));
    } else {
      v = expr.node(n, values, dtypes);
      if (is_floating(n.dtype)) v = round_float(b, n.dtype, v);
    }
    values.push_back(v);
    dtypes.push_back(n.dtype);
  }
  Type* out_type = storage_type(c, k.output.dtype);
  b.CreateStore(narrow(b, k.output.dtype, values.back()),
                b.CreateInBoundsGEP(out_type, out_ptr, b.CreateAdd(out_base, j)));
  llvm::Value* j_next = b.CreateAdd(j, b.getInt64(1));
  j->addIncoming(j_next, elem_loop);
  b.CreateCondBr(b.CreateICmpSLT(j_next, b.getInt64(row_len)), elem_loop, row_end);

  b.SetInsertPoint(row_end);
  llvm::Value* row_next = b.CreateAdd(row, b.getInt64(1));
  row->addIncoming(row_next, row_end);
  b.CreateCondBr(b.CreateICmpSLT(row_next, end), row_head, exit);

  b.SetInsertPoint(exit);
  b.CreateRetVoid();
  return fn;
}

}  // namespace graphc
