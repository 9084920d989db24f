// The builder infers shapes, keeps optional names, and reports a bad call at
// the caller's file and line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "graphs/transformer_block.h"
#include "ir/builder.h"
#include "ir/op_registry.h"
#include "ir/verifier.h"

namespace graphc {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(Builder, InfersTypesThroughSymbolicShapes) {
  Module m("t");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f32({sym("seq"), 4}), "x");
  Val y = b.tanh(x * b.scalar(2.0));
  EXPECT_EQ(y.type(), f32({sym("seq"), 4}));
  EXPECT_EQ(b.compare(y, "gt", b.scalar(0.0)).type(), boolean({sym("seq"), 4}));
  b.ret({y});
  EXPECT_TRUE(verify_module(m).ok());
  EXPECT_EQ(m.function("f")->result_types(), std::vector<TensorType>{f32({sym("seq"), 4})});
}

TEST(Builder, NamesAreOptionalHints) {
  Module m("t");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f32({2}));
  EXPECT_EQ(x->name(), "");
  Val y = b.exp(x).named("y");
  EXPECT_EQ(y->name(), "y");
}

TEST(Builder, ErrorsPointAtTheOffendingCall) {
  Module m("t");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f32({2, 3}), "x");
  const int line = __LINE__ + 2;
  try {
    b.exp(b.cast(x, DType::i32));
    FAIL() << "expected an error";
  } catch (const GraphcError& e) {
    EXPECT_THAT(e.what(), HasSubstr("test_builder.cpp:" + std::to_string(line)));
    EXPECT_THAT(e.what(), HasSubstr("exp: expects a floating-point operand, got i32[2,3]"));
  }
  // The failed op is not left behind in the block: cast stays, exp is gone.
  EXPECT_EQ(b.block()->num_ops(), 1);
  EXPECT_THROW(b.op("no_such_op", {x}), GraphcError);
  EXPECT_THROW(b.op1("cast", {x}, {{"to", DType::i32}, {"bogus", 1}}), GraphcError);
}

TEST(Builder, EveryRegisteredOpHasADocumentedSignature) {
  for (const OpDef* def : OpRegistry::instance().all()) {
    EXPECT_FALSE(def->summary.empty()) << def->name;
    EXPECT_TRUE(def->infer) << def->name;
    for (const AttrSpec& a : def->attrs) EXPECT_FALSE(a.doc.empty()) << def->name << "." << a.name;
  }
}

TEST(Builder, TheDemoTransformerBlockVerifies) {
  std::unique_ptr<Module> m = build_transformer_block();
  Status s = verify_module(*m);
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(m->function("forward")->result_types()[0], f32({sym("seq"), 16}));
}

}  // namespace
}  // namespace graphc
