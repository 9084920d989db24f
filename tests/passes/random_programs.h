// Random programs for property tests of the memory planner and the backends:
// chains and DAGs of elementwise ops, reshapes, transposes, reductions and
// matmuls over a few live values, sometimes with a loop that reads outer
// values and carries its own. Deterministic for a seed.
#pragma once

#include <memory>
#include <random>
#include <vector>

#include "ir/builder.h"
#include "ir/module.h"

namespace graphc::test_support {

inline std::unique_ptr<Module> random_program(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  auto m = std::make_unique<Module>("random");
  Builder b = Builder::function(*m, "f");
  const int64_t rows = 1 + pick(7), cols = 1 + pick(40);
  std::vector<Val> live = {b.param(TensorType(DType::f32, {rows, cols}), "x"),
                           b.param(TensorType(DType::f32, {rows, cols}), "y")};
  auto any = [&]() { return live[pick(static_cast<int>(live.size()))]; };
  auto same_shape = [&](const Val& v) {
    std::vector<Val> c;
    for (const Val& x : live)
      if (x.type() == v.type()) c.push_back(x);
    return c[pick(static_cast<int>(c.size()))];
  };
  const int steps = 4 + pick(20);
  for (int s = 0; s < steps; ++s) {
    const Val a = any();
    switch (pick(8)) {
      case 0: live.push_back(b.add(a, same_shape(a))); break;
      case 1: live.push_back(b.mul(a, same_shape(a))); break;
      case 2: live.push_back(b.tanh(a)); break;
      case 3: live.push_back(b.neg(a)); break;
      case 4: {  // a view, then math on it
        const Shape& sh = a.shape();
        int64_t n = 1;
        for (const Dim& d : sh) n *= d.value;
        live.push_back(b.exp(b.reshape(a, {n})));
        break;
      }
      case 5:
        if (a.type().rank() == 2) live.push_back(b.transpose(a, {1, 0}));
        break;
      case 6:
        if (a.type().rank() == 2) live.push_back(b.sum(a, {1}, /*keepdims=*/true));
        break;
      case 7:
        if (a.type().rank() == 2) live.push_back(b.matmul(a, a, false, true));
        break;
    }
  }
  if (pick(2) == 0) {
    // A loop whose body reads an outer value and carries one of its own.
    const Val outer = any(), init = any();
    const Val n = b.scalar(double(1 + pick(4)), DType::i64);
    live.push_back(b.loop(n, {init}, [&](Builder& body, Val, const std::vector<Val>& c) -> std::vector<Val> {
      Val t = body.tanh(c[0]);
      if (outer.type() == t.type()) t = body.add(t, outer);
      return {t};
    })[0]);
  }
  std::vector<Val> results = {live.back(), live[pick(static_cast<int>(live.size()))]};
  b.ret(results);
  return m;
}

}  // namespace graphc::test_support
