#include "graphs/train_step.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "graphs/cross_entropy.h"
#include "graphs/gemma3.h"
#include "ir/builder.h"
#include "passes/autodiff.h"
#include "passes/lora_common.h"
#include "passes/pass_manager.h"

namespace graphc {

std::vector<std::string> trainable_parameters(const Module& m, const std::string& globs) {
  const std::vector<std::string> patterns = lora::split_globs(globs);
  std::vector<std::string> out;
  for (const Global& g : m.globals())
    if (g.kind == GlobalKind::State && lora::matches_any(patterns, g.name)) out.push_back(g.name);
  return out;
}

namespace {

std::vector<int64_t> all_axes(const Val& v) {
  std::vector<int64_t> axes;
  for (int d = 0; d < v.type().rank(); ++d) axes.push_back(d);
  return axes;
}

// @train_grads, first half: the forward of one sequence up to the LM head's
// input, returned for now so that adapter passes can rewrite its projections.
void build_train_forward(Module& m, const Gemma3Config& c, const TrainConfig& t) {
  const int64_t S = t.seq_len;
  Builder b = Builder::function(m, "train_grads");
  Val tokens = b.param(TensorType(DType::i32, {S}), "tokens");
  b.param(TensorType(DType::i32, {S}), "targets");
  b.param(TensorType(DType::f32, {S}), "weights");
  b.param(TensorType(DType::f32, {}), "inv_count");
  b.param(TensorType(DType::i64, {}), "seed");
  b.ret({gemma3_final_hidden(b, c, tokens)});
}

// LoRA dropout, in training only: the input of every adapter's A product,
// x A^T, becomes (mask * x) / (1 - p) with mask = u >= p, u uniform from
// seed + k for the k-th adapter site (PEFT drops the adapter's input the same
// way). The mask depends on the seed alone, so autodiff sends the gradient
// through the kept elements.
void add_lora_dropout(Module& m, Function* f, Val seed, double p) {
  std::vector<Op*> sites;
  for (const auto& op : f->body()->ops())
    if (op->name() == "matmul" && lora::global_read(op->operand(1), "state_get").ends_with(".lora_a"))
      sites.push_back(op.get());
  int64_t k = 0;
  for (Op* op : sites) {
    lora::build_before(m, f->body(), op, [&](Builder& b) {
      Val x = b.wrap(op->operand(0));
      const DType dt = x.type().dtype;
      auto [u, next] = b.random_uniform(b.add(seed, b.scalar(double(k), DType::i64)), x.shape(), dt);
      Val keep = b.compare(u, "ge", b.scalar(p, dt));
      Val kept = b.select(keep, b.mul(x, b.scalar(1.0 / (1.0 - p), dt)), b.scalar(0.0, dt));
      op->set_operand(0, kept);
    });
    ++k;
  }
}

// Second half: the chunked loss and its gradient at the hidden states, then
// autodiff back to every read of a trainable parameter (a parameter read
// twice gets the sum of both gradients).
Status finish_train_grads(Module& m, const TrainConfig& t, const std::vector<std::string>& params) {
  std::vector<Val> returned;
  Builder b = Builder::reopen(m, "train_grads", &returned);
  Function* f = m.function("train_grads");
  Val targets = b.wrap(f->param(1)), weights = b.wrap(f->param(2)), inv_count = b.wrap(f->param(3));
  Val hidden = returned.at(0);
  if (t.lora_dropout > 0) add_lora_dropout(m, f, b.wrap(f->param(4)), t.lora_dropout);
  std::map<std::string, std::vector<Val>> reads;
  for (const auto& op : f->body()->ops())
    if (op->name() == "state_get") reads[op->attr("name").as_symbol()].push_back(b.wrap(op->result(0)));
  // The tied head: with full fine-tuning the table is trained too, and its
  // gradient from the loss adds to the one through the embedding lookup.
  const bool train_table = std::find(params.begin(), params.end(), "embed") != params.end();
  Val table = m.global("embed")->kind == GlobalKind::State ? b.state_get("embed") : b.weight("embed");
  CrossEntropy ce = chunked_cross_entropy(b, hidden, table, targets, weights, inv_count,
                                          cross_entropy_chunk(t.seq_len, t.loss_chunk), train_table);
  std::vector<Val> wrt;
  for (const std::string& p : params) {
    if (!reads.count(p)) return Error{"training: parameter @" + p + " is not read by the forward pass"};
    for (const Val& v : reads[p]) wrt.push_back(v);
  }
  auto grads = append_gradients(b, hidden, wrt, ce.grad_hidden);
  if (!grads.ok()) return grads.error();
  std::vector<Val> results{ce.loss_sum.named("loss_sum")};
  size_t k = 0;
  for (const std::string& p : params) {
    Val sum = (*grads)[k++];
    for (size_t r = 1; r < reads[p].size(); ++r) sum = sum + (*grads)[k++];
    if (p == "embed" && train_table) sum = sum + ce.grad_table;
    results.push_back(sum);
  }
  b.ret(results);
  return {};
}

void build_train_step(Module& m, const TrainConfig& t, const std::vector<std::string>& params) {
  const int64_t S = t.seq_len, M = t.micro_batches;
  Builder b = Builder::function(m, "train_step");
  Val tokens = b.param(TensorType(DType::i32, {M, S}), "tokens");
  Val targets = b.param(TensorType(DType::i32, {M, S}), "targets");
  Val weights = b.param(TensorType(DType::f32, {M, S}), "weights");
  // The mean is over the counted tokens of every micro-batch together, so
  // M micro-batches give the gradient of one batch of M sequences.
  Val count = b.max(b.sum(weights, {0, 1}), b.scalar(1.0));
  Val inv_count = b.scalar(1.0) / count;

  Val step = b.state_get("train.step");
  std::vector<Val> init{b.scalar(0.0)};
  for (const std::string& p : params) init.push_back(b.constant(0.0, m.global(p)->type));
  std::vector<Val> sums = b.loop(b.scalar(double(M), DType::i64), init,
                                 [&](Builder& body, Val i, const std::vector<Val>& acc) {
                                   Val zero = body.scalar(0, DType::i64);
                                   auto row = [&](Val x) {
                                     return body.reshape(body.dynamic_slice(x, {i, zero}, {1, S}), {S});
                                   };
                                   // Dropout masks: 4096 adapter sites per micro-batch and step.
                                   Val seed = body.mul(body.add(body.mul(step, body.scalar(double(M), DType::i64)), i),
                                                       body.scalar(4096, DType::i64));
                                   std::vector<Val> r = body.call(
                                       "train_grads", {row(tokens), row(targets), row(weights), inv_count, seed});
                                   std::vector<Val> next;
                                   for (size_t k = 0; k < acc.size(); ++k) next.push_back(acc[k] + r[k]);
                                   return next;
                                 });
  Val lr = learning_rate(b, step, t.optimizer.schedule);
  std::vector<Val> values, grads(sums.begin() + 1, sums.end());
  for (const std::string& p : params) values.push_back(b.state_get(p));
  Val norm = apply_optimizer(b, t.optimizer, params, values, grads, step, lr);
  b.state_set("train.step", step + b.scalar(1, DType::i64));
  b.ret({sums[0].named("loss"), norm.named("grad_norm"), lr.named("lr")});
}

// @train_loop: `count` steps over batches read from the token stream, each
// reported to the host with emit; the host's answer false stops the loop
// after that step.
void build_train_loop(Module& m, const TrainConfig& t) {
  const int64_t S = t.seq_len, M = t.micro_batches;
  Builder b = Builder::function(m, "train_loop");
  Val stream = b.param(TensorType(DType::i32, {sym("rows"), S + 1}), "stream");
  Val order = b.param(TensorType(DType::i32, {sym("steps"), M}), "order");
  Val count = b.param(TensorType(DType::i64, {}), "count");
  Val none = b.broadcast(b.scalar(0.0), {sym("steps")});
  std::vector<Val> out = b.loop(
      count, {none, none, none, b.scalar(0, DType::i64)},
      [&](Builder& body, Val i, const std::vector<Val>& c) -> std::vector<Val> {
        Val zero = body.scalar(0, DType::i64);
        Val rows = body.reshape(body.dynamic_slice(order, {i, zero}, {1, M}), {M});
        Val batch = body.gather(stream, rows, 0);  // [M, S + 1]
        Val tokens = body.slice(batch, {0, 0}, {M, S});
        Val targets = body.slice(batch, {0, 1}, {M, S + 1});
        Val weights = body.constant(1.0, TensorType(DType::f32, {M, S}));
        std::vector<Val> r = body.call("train_step", {tokens, targets, weights});
        Val report = body.concat({body.reshape(r[0], {1}), body.reshape(r[1], {1}), body.reshape(r[2], {1})}, 0);
        Val go_on = body.op1("emit", {report}, {{"channel", "train_step"}});
        Val stop = body.select(go_on, body.constant(0.0, TensorType(DType::boolean, {})),
                               body.constant(1.0, TensorType(DType::boolean, {})));
        auto put = [&](Val into, Val v) { return body.dynamic_update_slice(into, body.reshape(v, {1}), {i}); };
        return {stop, put(c[0], r[0]), put(c[1], r[1]), put(c[2], r[2]), i + body.scalar(1, DType::i64)};
      },
      /*has_exit=*/true);
  b.ret({out[0].named("losses"), out[1].named("grad_norms"), out[2].named("lrs"), out[3].named("steps_done")});
}

void build_eval_loss(Module& m, const Gemma3Config& c, const TrainConfig& t) {
  const int64_t S = t.seq_len;
  Builder b = Builder::function(m, "eval_loss");
  Val tokens = b.param(TensorType(DType::i32, {S}), "tokens");
  Val targets = b.param(TensorType(DType::i32, {S}), "targets");
  Val weights = b.param(TensorType(DType::f32, {S}), "weights");
  Val hidden = gemma3_final_hidden(b, c, tokens);
  // inv_count 1: the sum of the counted tokens' negative log-likelihoods.
  // (Built before the adapter passes, which turn this read into state_get
  // when full fine-tuning makes the table state.)
  CrossEntropy ce = chunked_cross_entropy(b, hidden, b.weight("embed"), targets, weights, b.scalar(1.0),
                                          cross_entropy_chunk(S, t.loss_chunk));
  b.ret({ce.loss_sum.named("nll_sum"), b.sum(weights, all_axes(weights)).named("count")});
}

}  // namespace

Status add_training(Module& m, const Gemma3Config& c, const TrainConfig& t) {
  if (Status s = t.optimizer.validate(); !s.ok()) return Error{"optimizer: " + s.error().message};
  if (t.seq_len <= 0 || t.micro_batches <= 0) return Error{"training: seq_len and micro_batches must be positive"};
  if (t.lora_dropout < 0 || t.lora_dropout >= 1) return Error{"training: lora dropout must be in [0, 1)"};
  if (m.function("train_step")) return Error{"training: the module already has @train_step"};
  try {
    build_train_forward(m, c, t);
    build_eval_loss(m, c, t);
    if (!t.adapters.empty()) {
      auto r = run_pipeline(m, t.adapters);
      if (!r.ok()) return Error{"training: adapters: " + r.error().message};
    }
    const std::vector<std::string> params = trainable_parameters(m, t.trainable);
    if (params.empty()) return Error{"training: no state global matches the trainable globs '" + t.trainable + "'"};
    if (Status s = finish_train_grads(m, t, params); !s.ok()) return s;
    m.add_global(GlobalKind::State, "train.step", TensorType(DType::i64, {}));
    build_train_step(m, t, params);
    build_train_loop(m, t);
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
  return {};
}

}  // namespace graphc
