// The pass manager: pipelines parse from a string or YAML and print back the
// same; unknown passes and bad options are errors that say what is known; a
// pass that breaks the verifier is named, with the verifier's op and line,
// and leaves a reproducer; IR printing selects stages by glob; the report
// counts ops and prints a stable table. Also the diff used by pass-dump.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ir/op_registry.h"
#include "passes/ir_diff.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "tests/passes/ir_check.h"

namespace graphc {
namespace {

using test_support::parse_ir;

const char* const kSmall = R"(module @small

func @f(%x: f32[4]) -> (f32[4]) {
  %one = constant {dtype = f32, shape = [], value = 1.0} : f32[]
  %0 = mul %x, %one : f32[4]
  %1 = tanh %0 : f32[4]
  %2 = tanh %0 : f32[4]
  %3 = add %1, %2 : f32[4]
  %4 = exp %3 : f32[4]
  return %3
}
)";

// ---- pipelines ----------------------------------------------------------------

TEST(Pipeline, PrintsBackTheStringItWasParsedFrom) {
  for (const char* text : {"canonicalize,cse,dce", "specialize-shapes{seq=128,batch=1},fold-constants{max-elements=8}",
                           "dce", ""}) {
    Expected<Pipeline> p = parse_pipeline(text);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->str(), text);
    Expected<Pipeline> again = parse_pipeline(p->str());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *p);
  }
  Expected<Pipeline> spaced = parse_pipeline("  cse , dce ,specialize-shapes{ seq = 4 }");
  ASSERT_TRUE(spaced.ok()) << spaced.error().message;
  EXPECT_EQ(spaced->str(), "cse,dce,specialize-shapes{seq=4}");
}

TEST(Pipeline, ReadsAYamlList) {
  Expected<Pipeline> p = parse_pipeline_yaml(
      "- canonicalize\n"
      "- specialize-shapes: {seq: 128}\n"
      "- 'fold-constants{max-elements=8}'\n"
      "- dce:\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->str(), "canonicalize,specialize-shapes{seq=128},fold-constants{max-elements=8},dce");
  Expected<Pipeline> scalar = parse_pipeline_yaml("cse,dce");
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->str(), "cse,dce");
  Expected<Pipeline> bad = parse_pipeline_yaml("- cse\n- {a: 1, b: 2}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("pipeline YAML: line 2, column 3: ", 0), 0u) << bad.error().message;
}

TEST(Pipeline, UnknownPassListsTheKnownOnes) {
  Expected<Pipeline> p = parse_pipeline("cse,fuse-everything,dce");
  ASSERT_FALSE(p.ok());
  const std::string& msg = p.error().message;
  EXPECT_EQ(msg.rfind("pipeline 'cse,fuse-everything,dce': unknown pass 'fuse-everything' (known passes: ", 0), 0u)
      << msg;
  for (const PassInfo& info : all_passes()) EXPECT_NE(msg.find(info.name), std::string::npos) << info.name;
}

TEST(Pipeline, SyntaxErrorsSayWhere) {
  const auto error_of = [](const char* text) {
    Expected<Pipeline> p = parse_pipeline(text);
    return p.ok() ? std::string("PARSED") : p.error().message;
  };
  EXPECT_EQ(error_of("cse,,dce"), "pipeline 'cse,,dce': column 5: expected a pass name, found ','");
  EXPECT_EQ(error_of("cse dce"), "pipeline 'cse dce': column 5: expected ',' between passes, found 'd'");
  EXPECT_EQ(error_of("specialize-shapes{seq}"),
            "pipeline 'specialize-shapes{seq}': column 22: expected '=' after option 'seq', found '}'");
  EXPECT_EQ(error_of("specialize-shapes{seq=1"),
            "pipeline 'specialize-shapes{seq=1': column 24: expected ',' or '}' in the options of specialize-shapes, "
            "found the end");
  EXPECT_EQ(error_of("specialize-shapes{seq=1,seq=2}"),
            "pipeline 'specialize-shapes{seq=1,seq=2}': column 30: option 'seq' given twice, found '}'");
}

TEST(Pipeline, BadOptionsNameThePassBeforeAnythingRuns) {
  std::unique_ptr<Module> m = parse_ir(kSmall);
  ASSERT_TRUE(m);
  const std::string before = print_module(*m);
  Expected<PipelineReport> r = run_pipeline(*m, "cse,dce{aggressive=1}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "pass 'dce': unknown option 'aggressive' (it takes none)");
  EXPECT_EQ(print_module(*m), before);
}

TEST(Pipeline, DefaultPipelineHasTheCleanupAndOnlyRegisteredFusions) {
  const std::string p = default_pipeline();
  EXPECT_EQ(p.rfind(kCleanupPipeline, 0), 0u) << p;
  Expected<Pipeline> parsed = parse_pipeline(p);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->str(), p);
  bool any_fusion = false;
  for (const PipelineEntry& e : parsed->entries) any_fusion |= e.name.rfind("fuse-", 0) == 0;
  EXPECT_EQ(any_fusion, p != kCleanupPipeline);
}

TEST(Pipeline, GlobsMatchPassNames) {
  EXPECT_TRUE(pass_name_matches("all", "cse"));
  EXPECT_TRUE(pass_name_matches("*", "cse"));
  EXPECT_TRUE(pass_name_matches("fuse-*", "fuse-rmsnorm"));
  EXPECT_FALSE(pass_name_matches("fuse-*", "fold-constants"));
  EXPECT_TRUE(pass_name_matches("f*-*s", "fold-constants"));
  EXPECT_TRUE(pass_name_matches("?se", "cse"));
  EXPECT_FALSE(pass_name_matches("cse", "cse2"));
  EXPECT_FALSE(pass_name_matches("", "cse"));
}

// ---- running ------------------------------------------------------------------

TEST(PassManager, ReportsOpsChangesAndCountersInAStableTable) {
  std::unique_ptr<Module> m = parse_ir(kSmall);
  ASSERT_TRUE(m);
  Expected<PipelineReport> r = run_pipeline(*m, "canonicalize,cse,dce,dce");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->passes.size(), 4u);
  EXPECT_EQ(r->pipeline, "canonicalize,cse,dce,dce");
  EXPECT_EQ(r->passes[0].ops_before, 7);
  EXPECT_EQ(r->passes[0].ops_after, 5);
  EXPECT_EQ(r->passes[1].ops_after, 4);
  EXPECT_EQ(r->passes[2].ops_after, 3);
  EXPECT_FALSE(r->passes[3].changed);
  EXPECT_EQ(r->table(/*with_times=*/false),
            "  #  pass               ops -> ops       changed  counters\n"
            "  1  canonicalize         7 -> 5         yes      ops left unused and removed=1, x*1=1\n"
            "  2  cse                  5 -> 4         yes      ops merged=1\n"
            "  3  dce                  4 -> 3         yes      ops removed=1\n"
            "  4  dce                  3 -> 3         no\n");
  const std::string timed = r->table();
  EXPECT_NE(timed.find("time ms"), std::string::npos);
  EXPECT_NE(timed.find("total"), std::string::npos);
}

TEST(PassManager, PrintsSelectedStagesOnlyWhenChangedIfAsked) {
  std::unique_ptr<Module> m = parse_ir(kSmall);
  ASSERT_TRUE(m);
  Expected<Pipeline> p = parse_pipeline("canonicalize,cse,dce,dce");
  ASSERT_TRUE(p.ok());
  PassManager pm(*p);
  std::vector<std::string> seen;
  pm.set_ir_observer([&](const IrStage& s) { seen.push_back(s.title(4)); });
  pm.print_input(true);
  pm.print_ir_before({"cse"});
  pm.print_ir_after({"c*", "dce"});
  pm.print_only_when_changed(true);
  ASSERT_TRUE(pm.run(*m).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "// ----- input -----",
                      "// ----- after canonicalize (1/4) -----",
                      "// ----- before cse (2/4) -----",
                      "// ----- after cse (2/4) -----",
                      "// ----- after dce (3/4) -----",
                  }));
}

// Changes the first tanh's result type without changing anything else: the
// verifier must catch it and blame this pass.
class BreakTypes : public Pass {
 public:
  std::string name() const override { return "test-break-types"; }
  std::string summary() const override { return "test only: gives a tanh the wrong result type"; }
  Expected<bool> run(Module& module, PassStats&) override {
    for (const auto& f : module.functions())
      for (const auto& op : f->body()->ops())
        if (op->name() == "tanh") {
          op->result(0)->set_type(TensorType(DType::f32, {5}));
          return true;
        }
    return false;
  }
};

class FailOrThrow : public Pass {
 public:
  explicit FailOrThrow(bool throws) : throws_(throws) {}
  std::string name() const override { return "test-fail"; }
  std::string summary() const override { return "test only: fails"; }
  Expected<bool> run(Module&, PassStats&) override {
    if (throws_) throw GraphcError("exploded");
    return Error{"cannot do this"};
  }

 private:
  bool throws_;
};

class WithTestPasses : public ::testing::Test {
 protected:
  void SetUp() override {
    register_pass("test-break-types", [](const PassOptions& o) {
      o.expect_only({});
      return std::make_unique<BreakTypes>();
    });
    register_pass("test-fail", [](const PassOptions& o) {
      o.expect_only({"throw"});
      return std::make_unique<FailOrThrow>(o.get_bool("throw", false));
    });
  }
  void TearDown() override {
    unregister_pass("test-break-types");
    unregister_pass("test-fail");
  }
};

TEST_F(WithTestPasses, APassThatBreaksTheVerifierIsNamedWithTheOpAndLine) {
  std::unique_ptr<Module> m = parse_ir(kSmall);
  ASSERT_TRUE(m);
  Expected<PipelineReport> r = run_pipeline(*m, "canonicalize,test-break-types,dce");
  ASSERT_FALSE(r.ok());
  // After canonicalize the tanh is on line 4 of the printed module.
  EXPECT_EQ(r.error().message,
            "pass 'test-break-types' (2/3 of 'canonicalize,test-break-types,dce') broke the verifier: "
            "line 4: tanh %0: result 0 is declared f32[5] but is f32[4]");
}

// Release builds may skip verification; debug builds (the sanitizer run
// included) always verify.
TEST_F(WithTestPasses, TheVerifierCanBeSwitchedOffInReleaseBuildsOnly) {
  std::unique_ptr<Module> m = parse_ir(kSmall);
  ASSERT_TRUE(m);
  Expected<PipelineReport> r = run_pipeline(*m, "test-break-types", PassManagerOptions{.verify_each = false});
#ifdef NDEBUG
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->passes.at(0).changed);
#else
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("broke the verifier"), std::string::npos) << r.error().message;
#endif
}

TEST_F(WithTestPasses, AFailingPassLeavesTheIrItReceivedAndItsPipeline) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "graphc_pass_manager_repro";
  std::filesystem::remove_all(dir);
  std::unique_ptr<Module> m = parse_ir(kSmall);
  ASSERT_TRUE(m);
  Expected<PipelineReport> r =
      run_pipeline(*m, "canonicalize,test-break-types,dce", PassManagerOptions{.dump_dir = dir.string()});
  ASSERT_FALSE(r.ok());
  const std::filesystem::path graph = dir / "small.failed.graph", pipeline = dir / "small.failed.pipeline";
  EXPECT_NE(r.error().message.find("reproduce with: pass-dump " + graph.string() + " --passes='test-break-types'"),
            std::string::npos)
      << r.error().message;
  std::ifstream g(graph), p(pipeline);
  std::stringstream gt, pt;
  gt << g.rdbuf();
  pt << p.rdbuf();
  EXPECT_EQ(pt.str(), "test-break-types\n");
  // The IR the failing pass received: after canonicalize, and it reproduces the failure.
  std::unique_ptr<Module> again = parse_ir(gt.str());
  ASSERT_TRUE(again);
  EXPECT_EQ(count_ops(*again), 5);
  Expected<PipelineReport> rerun = run_pipeline(*again, "test-break-types");
  ASSERT_FALSE(rerun.ok());
  EXPECT_NE(rerun.error().message.find("broke the verifier: line 4: tanh"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_F(WithTestPasses, PassErrorsAndExceptionsNameThePass) {
  std::unique_ptr<Module> m = parse_ir(kSmall);
  ASSERT_TRUE(m);
  Expected<PipelineReport> r = run_pipeline(*m, "cse,test-fail");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "pass 'test-fail' (2/2 of 'cse,test-fail') failed: cannot do this");
  r = run_pipeline(*m, "test-fail{throw=true}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "pass 'test-fail{throw=true}' (1/1 of 'test-fail{throw=true}') failed: exploded");
}

TEST(PassManager, AnInputThatDoesNotVerifyIsRejectedBeforeAnyPass) {
  Expected<std::unique_ptr<Module>> m = parse_module(R"(module @bad

func @f(%x: f32[4]) -> (f32[4]) {
  %0 = tanh %x : f32[3]
  return %0
}
)");
  ASSERT_TRUE(m.ok());
  Expected<PipelineReport> r = run_pipeline(**m, "dce");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("the pipeline's input does not verify: line 4: tanh %0:", 0), 0u)
      << r.error().message;
}

TEST(PassRegistry, EveryPassHasItsNameAndASummary) {
  const std::vector<PassInfo> passes = all_passes();
  ASSERT_GE(passes.size(), 5u);
  for (size_t i = 0; i < passes.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(passes[i - 1].name, passes[i].name);
    }
    Expected<std::unique_ptr<Pass>> p = create_pass(passes[i].name);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ((*p)->name(), passes[i].name);
    EXPECT_FALSE(passes[i].summary.empty()) << passes[i].name;
  }
  for (const char* name : {"canonicalize", "cse", "dce", "fold-constants", "specialize-shapes"})
    EXPECT_TRUE(is_registered_pass(name)) << name;
}

// ---- the diff ---------------------------------------------------------------------

TEST(UnifiedDiff, ShowsChangesWithContextAndNothingForEqualTexts) {
  EXPECT_EQ(unified_diff("a\nb\n", "a\nb\n", "x", "y"), "");
  const std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
  const std::string after = "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n12\n13\n";
  EXPECT_EQ(unified_diff(before, after, "before", "after", 2),
            "--- before\n+++ after\n"
            "@@ -1,5 +1,5 @@\n 1\n 2\n-3\n+three\n 4\n 5\n"
            "@@ -9,4 +9,4 @@\n 9\n 10\n-11\n 12\n+13\n");
  EXPECT_EQ(unified_diff("", "a\n", "x", "y"), "--- x\n+++ y\n@@ -0,0 +1,1 @@\n+a\n");
  EXPECT_EQ(unified_diff("a\n", "", "x", "y"), "--- x\n+++ y\n@@ -1,1 +0,0 @@\n-a\n");
}

TEST(UnifiedDiff, IsMinimal) {
  // Moving one line is one removal and one addition, whatever the length.
  std::string a, b;
  for (int i = 0; i < 200; ++i) a += std::to_string(i) + "\n";
  b = a.substr(a.find('\n') + 1) + "0\n";
  const std::string d = unified_diff(a, b, "a", "b", 0);
  int minus = 0, plus = 0;
  std::stringstream lines(d);
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("---", 0) == 0 || l.rfind("+++", 0) == 0) continue;
    minus += !l.empty() && l[0] == '-';
    plus += !l.empty() && l[0] == '+';
  }
  EXPECT_EQ(minus, 1);
  EXPECT_EQ(plus, 1);
}

}  // namespace
}  // namespace graphc
