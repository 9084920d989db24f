// Random programs (tests/passes/random_programs.h) on the JIT backend, whose
// memory plan reuses and overwrites buffers, against the reference
// interpreter: a planning mistake shows up as a wrong result.
// Tolerance: chains of up to ~25 float ops (tanh, exp, matmul over <= 40
// terms) against double: 1e-4 relative, 1e-5 absolute.
#include <gtest/gtest.h>

#include "tests/codegen/jit_check.h"
#include "tests/passes/random_programs.h"

namespace graphc {
namespace {

TEST(JitRandomPrograms, MatchTheReference) {
  for (uint32_t seed = 0; seed < 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto m = test_support::random_program(seed);
    const Function& f = *m->function("f");
    std::vector<HostTensor> args;
    for (int i = 0; i < f.num_params(); ++i)
      args.push_back(test_support::random_tensor(DType::f32, to_static(f.param(i)->shape()), seed * 7 + i, -0.5, 0.5));
    ReferenceInterpreter ref(*m);
    CpuBackend jit(*m, {.threads = 2});
    auto want = ref.run("f", args);
    auto got = jit.run("f", args);
    ASSERT_TRUE(want.ok()) << want.error().message;
    ASSERT_TRUE(got.ok()) << got.error().message;
    for (size_t r = 0; r < want->size(); ++r)
      for (int64_t i = 0; i < (*want)[r].numel(); ++i) {
        const double a = (*got)[r].get(i), b = (*want)[r].get(i);
        ASSERT_NEAR(a, b, 1e-5 + 1e-4 * std::fabs(b)) << "result " << r << " element " << i;
      }
  }
}

}  // namespace
}  // namespace graphc
