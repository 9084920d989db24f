// Checks the CPU (JIT) backend against the reference interpreter: the same
// module, the same arguments, weights and state, every result compared.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/reference/interpreter.h"
#include "ir/parser.h"
#include "ir/verifier.h"

namespace graphc::test_support {

// Uniform in [lo, hi) for floats, integers in [lo, hi) for integer dtypes,
// 0/1 for bool; the same seed gives the same tensor.
inline HostTensor random_tensor(DType dtype, std::vector<int64_t> shape, uint32_t seed, double lo = -1,
                                double hi = 1) {
  HostTensor t(dtype, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (t.is_float()) t.set(i, u(rng));
    else if (dtype == DType::boolean) t.set_int(i, rng() & 1);
    else t.set_int(i, static_cast<int64_t>(std::floor(u(rng))));
  }
  return t;
}

struct JitCheck {
  std::string module_text;
  std::string function = "f";
  std::vector<HostTensor> args;
  std::map<std::string, HostTensor> weights;
  // |jit - ref| <= abs_tol + rel_tol * |ref| for every element; integer and
  // bool results must be equal.
  double abs_tol = 0;
  double rel_tol = 0;
  int threads = 0;
};

inline ::testing::AssertionResult jit_matches_reference(const JitCheck& c) {
  auto module = parse_module(c.module_text, "<test>");
  if (!module.ok()) return ::testing::AssertionFailure() << "parse: " << module.error().message;
  if (Status s = verify_module(**module); !s.ok())
    return ::testing::AssertionFailure() << "verify: " << s.error().message;
  ReferenceInterpreter ref(**module);
  CpuBackendOptions options;
  options.threads = c.threads;
  CpuBackend jit(**module, options);
  for (const auto& [name, w] : c.weights) {
    ref.set_weight(name, w);
    jit.set_weight(name, w);
  }
  auto want = ref.run(c.function, c.args);
  if (!want.ok()) return ::testing::AssertionFailure() << "reference: " << want.error().message;
  auto got = jit.run(c.function, c.args);
  if (!got.ok()) return ::testing::AssertionFailure() << "jit: " << got.error().message;
  if (got->size() != want->size()) return ::testing::AssertionFailure() << "result counts differ";
  for (size_t r = 0; r < want->size(); ++r) {
    const HostTensor& w = (*want)[r];
    const HostTensor& g = (*got)[r];
    if (w.type() != g.type())
      return ::testing::AssertionFailure() << "result " << r << ": " << g.type().str() << " vs " << w.type().str();
    for (int64_t i = 0; i < w.numel(); ++i) {
      const double a = g.get(i), b = w.get(i);
      bool ok;
      if (!w.is_float()) ok = a == b;
      else if (std::isnan(b)) ok = std::isnan(a);
      else if (std::isinf(b)) ok = a == b;
      else ok = std::fabs(a - b) <= c.abs_tol + c.rel_tol * std::fabs(b);
      if (!ok)
        return ::testing::AssertionFailure() << "result " << r << " element " << i << ": jit " << a << ", reference "
                                             << b << " (|diff| " << std::fabs(a - b) << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace graphc::test_support
