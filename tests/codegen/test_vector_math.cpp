// The kernel templates' own exp and tanh (codegen/kernels/kernel_abi.h),
// which loops can vectorise, against the C library in double: the error
// bounds the header states, over a dense sweep of their useful range.
#include <gtest/gtest.h>

#include <cmath>

#define GK_VW 8
#include "codegen/kernels/kernel_abi.h"

namespace {

TEST(VectorMath, ExpWithinTwoUlp) {
  double worst = 0;
  for (double x = -87.0; x <= 88.0; x += 1.0 / 4096) {
    const double want = std::exp(static_cast<double>(static_cast<float>(x)));
    const double got = gk_expf(static_cast<float>(x));
    const double ulp = std::ldexp(1.0, std::ilogb(want) - 23);
    worst = std::max(worst, std::fabs(got - want) / ulp);
  }
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(gk_expf(-1000.0f), 0.0f);  // masked scores weigh exactly nothing
  EXPECT_EQ(gk_expf(-INFINITY), 0.0f);
  EXPECT_GT(gk_expf(0.0f), 0.9999999f);
}

TEST(VectorMath, TanhWithinTwoTenMillionths) {
  double worst = 0;
  for (double x = -20.0; x <= 20.0; x += 1.0 / 8192) {
    const float xf = static_cast<float>(x);
    worst = std::max(worst, std::fabs(gk_tanhf(xf) - std::tanh(static_cast<double>(xf))));
  }
  EXPECT_LT(worst, 2e-7);
  EXPECT_EQ(gk_tanhf(0.0f), 0.0f);
  EXPECT_EQ(gk_tanhf(100.0f), 1.0f);
  EXPECT_EQ(gk_tanhf(-100.0f), -1.0f);
}

}  // namespace
