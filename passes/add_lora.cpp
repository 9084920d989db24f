// add-lora: adds a LoRA adapter (PEFT's lora_A / lora_B) to every projection
// whose weight matches one of the target globs.
//
// Options: targets=GLOB|GLOB (on weight names, e.g. layer.*.q_proj|layer.*.v_proj),
// rank=R (8), alpha=A (default R), init=kaiming|zeros (kaiming), seed=S (0),
// name=N (none): a named adapter, so several can sit on one weight and be
// blended by fold-lora; its factors are @W.lora_a.N and @W.lora_b.N.
//
// Matches a projection whose rhs is a weight read directly:
//
//   x ─► matmul(x, weight @W, transpose_b = true) ─► y          W : f32[out, in]
//
// and rewrites it to
//
//   x ─┬─► matmul(x, weight @W, tb) ─────────────────────────────────► add ─► y'
//      └─► matmul(x, A, tb) ─► matmul(·, B, tb) ─► mul(alpha/R, ·) ──┘
//
//   y' = x W^T + (alpha/R) (x A^T) B^T,   A = state_get @W.lora_a : f32[R, in]
//                                         B = state_get @W.lora_b : f32[out, R]
//
// The state globals are declared once per weight, even when it is used by
// several projections. The function @lora_init(%seed: i64[]) -> () is created
// (or extended, when the pass runs again) to set every new A and B:
//   kaiming: A uniform in [-1/sqrt(in), 1/sqrt(in)] (PEFT's default for
//            lora_A, kaiming_uniform with a = sqrt(5)), from random_uniform
//            seeded with %seed + S + k for the k-th adapter of the module;
//   zeros:   A = 0.
// B is always zero, so an initialised adapter leaves the model's output
// unchanged. init=gaussian is refused: a Gaussian from uniforms would need a
// Box-Muller or sum-of-uniforms construction that is not written yet.
//
// Stats: "adapters added" (new A/B pairs), "projections adapted". Remarks name
// a target weight that is also read in a form this pass cannot rewrite (not
// the rhs of matmul(x, w, transpose_b = true), e.g. a tied embedding table).
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "passes/lora_common.h"
#include "passes/pass.h"

namespace graphc {
namespace {

struct LoraOptions {
  std::vector<std::string> targets;
  int64_t rank = 8;
  double alpha = 8;
  std::string init = "kaiming";
  int64_t seed = 0;
  std::string adapter;  // the name option
};

class AddLora : public Pass {
 public:
  explicit AddLora(LoraOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "add-lora"; }
  std::string summary() const override {
    return "adds LoRA adapters y += (alpha/r) (x A^T) B^T to projections whose weight matches the targets";
  }

  Expected<bool> run(Module& m, PassStats& stats) override {
    std::vector<std::string> adapted;  // weights given a new adapter, in order
    int projections = 0;
    std::set<std::string> remarked;
    std::set<std::string> had_adapter;  // adapted by an earlier run: left alone
    for (const Global& g : m.globals())
      if (g.kind == GlobalKind::Weight && m.global(lora::a_name(g.name, o_.adapter))) had_adapter.insert(g.name);
    std::vector<Function*> fns;
    for (const auto& f : m.functions()) fns.push_back(f.get());
    for (Function* f : fns) {
      if (f->name() == "lora_init") continue;
      std::vector<std::pair<Block*, Op*>> sites;
      walk(f->body(), [&](Op* op) {
        const std::string w = lora::projection_weight(*op);
        if (!w.empty() && lora::matches_any(o_.targets, w) && !had_adapter.count(w))
          sites.push_back({op->parent_block(), op});
        // A matching weight read anywhere else stays as it is.
        if (op->name() == "weight" && lora::matches_any(o_.targets, op->attr("name").as_symbol()))
          for_each_other_use(f, op, [&](const Op& user) {
            const std::string name = op->attr("name").as_symbol();
            if (remarked.insert(name + "/" + f->name() + "/" + user.name()).second)
              stats.remark(fmt::format("add-lora: weight @{} in @{} is used by {} in a form that is not "
                                       "matmul(x, w, transpose_b = true); that use is not adapted",
                                       name, f->name(), user.name()));
          });
      });
      for (auto [block, mm] : sites) {
        const std::string w = lora::projection_weight(*mm);
        if (declare(m, w, stats)) adapted.push_back(w);
        rewrite(m, block, mm, w);
        ++projections;
      }
    }
    if (projections) stats.count("projections adapted", projections);
    if (!adapted.empty()) extend_init(m, adapted);
    return projections > 0;
  }

 private:
  // Calls `fn` for every user of the weight op's value that is not a matching projection.
  template <typename F>
  static void for_each_other_use(Function* f, Op* weight_op, F&& fn) {
    walk(f->body(), [&](Op* user) {
      for (int i = 0; i < user->num_operands(); ++i)
        if (user->operand(i) == weight_op->result(0) && !(i == 1 && !lora::projection_weight(*user).empty()))
          fn(*user);
    });
  }

  // Declares @W.lora_a / @W.lora_b unless they exist; true if it did.
  bool declare(Module& m, const std::string& w, PassStats& stats) {
    if (m.global(lora::a_name(w, o_.adapter))) return false;  // another projection (or function) reading W
    const Global* g = m.global(w);
    const int64_t out = g->type.shape[0].value, in = g->type.shape[1].value;
    m.add_global(GlobalKind::State, lora::a_name(w, o_.adapter), TensorType(g->type.dtype, {Dim(o_.rank), Dim(in)}));
    m.add_global(GlobalKind::State, lora::b_name(w, o_.adapter), TensorType(g->type.dtype, {Dim(out), Dim(o_.rank)}));
    stats.count("adapters added");
    return true;
  }

  // Rewrites one projection reading W: y -> y + s (x A^T) B^T.
  void rewrite(Module& m, Block* block, Op* mm, const std::string& w) {
    Value* y = mm->result(0);
    Op* next = block->ops()[block->position_of(mm) + 1].get();
    Value* sum = nullptr;
    lora::build_before(m, block, next, [&](Builder& b) {
      Val x{mm->operand(0)};
      Val a = b.state_get(lora::a_name(w, o_.adapter));
      Val bb = b.state_get(lora::b_name(w, o_.adapter));
      Val xa = b.matmul(x, a, false, true);
      Val delta = b.matmul(xa, bb, false, true);
      Val scaled = b.mul(b.scalar(o_.alpha / static_cast<double>(o_.rank), y->type().dtype), delta);
      sum = b.add(Val{y}, scaled);
    });
    Op* add_op = sum->defining_op();
    replace_all_uses(block->parent_function() ? block->parent_function()->body() : block, y, sum);
    add_op->set_operand(0, y);  // the add itself keeps reading y
  }

  // Creates @lora_init(%seed: i64[]) -> () or appends to it: A random, B zero.
  void extend_init(Module& m, const std::vector<std::string>& weights) {
    Function* init = m.function("lora_init");
    if (!init) {
      Builder b = Builder::function(m, "lora_init");
      b.param(TensorType(DType::i64, {}), "seed");
      b.ret({});
      init = m.function("lora_init");
    }
    int64_t k = 0;  // adapters initialised before these
    walk(init->body(), [&](Op* op) { k += op->name() == "state_set"; });
    k /= 2;
    Block* body = init->body();
    lora::build_before(m, body, body->terminator(), [&](Builder& b) {
      Val seed{body->args()[0].get()};
      for (const std::string& w : weights) {
        const TensorType at = m.global(lora::a_name(w, o_.adapter))->type;
        const TensorType bt = m.global(lora::b_name(w, o_.adapter))->type;
        Val a;
        if (o_.init == "kaiming") {
          const double bound = 1.0 / std::sqrt(static_cast<double>(at.shape[1].value));
          Val s = b.add(seed, b.scalar(static_cast<double>(o_.seed + k), DType::i64));
          Val u = b.random_uniform(s, at.shape, at.dtype).first;  // [0, 1)
          a = b.sub(b.mul(u, b.scalar(2 * bound, at.dtype)), b.scalar(bound, at.dtype));
        } else {
          a = b.constant(0.0, at);
        }
        b.state_set(lora::a_name(w, o_.adapter), a);
        b.state_set(lora::b_name(w, o_.adapter), b.constant(0.0, bt));
        ++k;
      }
    });
  }

  LoraOptions o_;
};

}  // namespace

std::unique_ptr<Pass> create_add_lora(const PassOptions& options) {
  options.expect_only({"targets", "rank", "alpha", "init", "seed", "name"});
  LoraOptions o;
  o.targets = lora::split_globs(options.get("targets").value_or("layer.*_proj"));
  o.rank = options.get_int("rank", 8);
  if (o.rank <= 0) throw GraphcError("option 'rank' must be positive");
  o.alpha = static_cast<double>(o.rank);
  if (auto a = options.get("alpha")) {
    try {
      o.alpha = std::stod(*a);
    } catch (const std::exception&) {
      throw GraphcError("option 'alpha' must be a number, got '" + *a + "'");
    }
  }
  o.init = options.get("init").value_or("kaiming");
  if (o.init == "gaussian")
    throw GraphcError("option 'init': gaussian is not supported yet (use kaiming or zeros)");
  if (o.init != "kaiming" && o.init != "zeros")
    throw GraphcError("option 'init' must be kaiming or zeros, got '" + o.init + "'");
  o.seed = options.get_int("seed", 0);
  o.adapter = options.get("name").value_or("");
  return std::make_unique<AddLora>(std::move(o));
}

}  // namespace graphc
