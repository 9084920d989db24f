// Gradient rule of matmul (ir/ops/linalg.cpp). With A' = op(A) and B' =
// op(B) (transposed or not) and C = A' B', dA' = dC B'^T and dB' = A'^T dC;
// each is written as one matmul with the transposes folded into its flags,
// then summed over the batch dims the operand was broadcast along.
#include "passes/gradient_rules.h"

namespace graphc {

void register_linalg_gradients(GradientRules& r) {
  r.add("matmul", [](const GradientContext& c) -> std::vector<Val> {
    std::vector<Val> out(2);
    Builder& b = c.b;
    Val a = c.operands[0], bm = c.operands[1], g = c.grad();
    const bool ta = c.op.attr_bool("transpose_a");
    const bool tb = c.op.attr_bool("transpose_b");
    if (c.needed(0)) {
      // dA' = g B'^T; dA = dA' or, when A was transposed, dA'^T = B' g^T.
      Val da = ta ? b.matmul(bm, g, tb, true) : b.matmul(g, bm, false, !tb);
      out[0] = unbroadcast(b, da, a.shape());
    }
    if (c.needed(1)) {
      // dB' = A'^T g; dB = dB' or, when B was transposed, dB'^T = g^T A'.
      Val db = tb ? b.matmul(g, a, true, ta) : b.matmul(a, g, !ta, false);
      out[1] = unbroadcast(b, db, bm.shape());
    }
    return out;
  });
}

}  // namespace graphc
