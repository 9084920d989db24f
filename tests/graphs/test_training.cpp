// Training as IR on the tiny Gemma-3 with LoRA adapters: the gradients of
// @train_grads (chunked cross-entropy + autodiff) against finite differences
// of its own loss, the learning-rate schedules against their formulas, and
// the loss falling under @train_step with AdamW and with SGD.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <random>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/train_step.h"
#include "graphs/transformer_block.h"
#include "ir/verifier.h"
#include "tests/tiny_gemma3.h"

namespace graphc {
namespace {

using test_support::tiny_gemma3_config;

constexpr int64_t kSeq = 8;

TrainConfig tiny_train_config(int64_t micro_batches = 2) {
  TrainConfig t;
  t.seq_len = kSeq;
  t.micro_batches = micro_batches;
  t.loss_chunk = 3;  // does not divide 8: the chunk used is 2, so the loop runs 4 times
  t.adapters = "add-lora{targets=layer.*.q_proj|layer.*.k_proj|layer.*.v_proj|layer.*.o_proj|"
               "layer.*.gate_proj|layer.*.up_proj|layer.*.down_proj,rank=2,alpha=4}";
  t.optimizer.schedule.lr = 1e-2;
  return t;
}

struct Trainer {
  std::unique_ptr<Module> m;
  std::unique_ptr<ReferenceInterpreter> interp;
};

Trainer make_trainer(const TrainConfig& t) {
  Trainer tr;
  tr.m = build_gemma3(tiny_gemma3_config());
  Status s = add_training(*tr.m, tiny_gemma3_config(), t);
  EXPECT_TRUE(s.ok()) << s.error().message;
  Status v = verify_module(*tr.m);
  EXPECT_TRUE(v.ok()) << v.error().message;
  tr.interp = std::make_unique<ReferenceInterpreter>(*tr.m);
  for (auto& [name, w] : demo_weights(*tr.m, 5)) tr.interp->set_weight(name, std::move(w));
  return tr;
}

// Every adapter factor random (B too, so that A gets a gradient).
void randomise_adapters(Trainer& tr) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (const std::string& p : trainable_parameters(*tr.m, "*.lora_a|*.lora_b")) {
    HostTensor t(DType::f32, to_static(tr.m->global(p)->type.shape));
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, normal(rng));
    tr.interp->set_state(p, t);
  }
}

HostTensor ids(std::vector<int64_t> shape, std::vector<int64_t> v) { return HostTensor::from_ints(DType::i32, shape, v); }

// Next-token pairs of a fixed sequence; the first two targets are a "prompt"
// (weight 0), so the ignore mask is exercised.
struct Batch {
  HostTensor tokens, targets, weights;
};
Batch row_batch() {
  std::vector<int64_t> text = {2, 17, 5, 33, 8, 8, 41, 12, 29};
  Batch b{ids({kSeq}, {text.begin(), text.end() - 1}), ids({kSeq}, {text.begin() + 1, text.end()}),
          HostTensor::from_floats(DType::f32, {kSeq}, {0, 0, 1, 1, 1, 1, 1, 1})};
  return b;
}

// Finite differences of train_grads' own loss, in f32: with h = 1e-2 the
// truncation error is about h^2 |L'''| ~ 1e-4 and the rounding of the f32
// loss (~2^-24 * 4 through a few hundred ops, about 1e-5) over 2h adds about
// 1e-3 at worst; |numeric - analytic| <= 2e-3 + 2e-2 |analytic| holds for
// correct gradients, while a missing or wrong path is off by the gradient
// itself (typically 1e-2 .. 1).
void expect_lora_gradients_match(double dropout, double h) {
  TrainConfig t = tiny_train_config();
  t.lora_dropout = dropout;
  Trainer tr = make_trainer(t);
  randomise_adapters(tr);
  Batch batch = row_batch();
  const HostTensor inv_count = HostTensor::scalar(DType::f32, 1.0 / 6);
  const HostTensor seed = HostTensor::scalar(DType::i64, 0);
  auto run = [&]() {
    return tr.interp->run("train_grads", {batch.tokens, batch.targets, batch.weights, inv_count, seed});
  };
  auto out = run();
  ASSERT_TRUE(out.ok()) << out.error().message;
  const std::vector<std::string> params = trainable_parameters(*tr.m, "*.lora_a|*.lora_b");
  ASSERT_EQ(out->size(), params.size() + 1);
  EXPECT_GT((*out)[0].get(0), 0.5);  // a mean nll over 48 tokens starts near ln 48 = 3.9
  int checked = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const HostTensor& grad = (*out)[1 + i];
    HostTensor base = tr.interp->state(params[i]);
    // Three elements per parameter: first, middle, last.
    for (int64_t j : {int64_t{0}, base.numel() / 2, base.numel() - 1}) {
      HostTensor plus = base, minus = base;
      plus.set(j, base.get(j) + h);
      minus.set(j, base.get(j) - h);
      tr.interp->set_state(params[i], plus);
      const double lp = (*run())[0].get(0);
      tr.interp->set_state(params[i], minus);
      const double lm = (*run())[0].get(0);
      tr.interp->set_state(params[i], base);
      const double numeric = (lp - lm) / (2 * h);
      EXPECT_LE(std::fabs(numeric - grad.get(j)), 2e-3 + 2e-2 * std::fabs(grad.get(j)))
          << params[i] << "[" << j << "]: numeric " << numeric << ", analytic " << grad.get(j);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * 2 * 7 * 2);  // 3 elements x (A, B) x 7 projections x 2 layers
}

TEST(Training, LoraGradientsMatchFiniteDifferences) { expect_lora_gradients_match(0.0, 1e-2); }

// With dropout the masks are fixed by the seed argument, so the loss is a
// smooth function of the adapters and the same check applies, with a smaller
// h: the kept inputs are scaled by 1 / (1 - p) and the loss curves more (at
// h = 1e-2 the truncation error reached 0.1 on gradients of ~3); at h = 3e-3
// it is 10x smaller, and the f32 rounding term, ~1e-5 / 2h, stays below the
// 2e-3 absolute tolerance.
TEST(Training, LoraGradientsWithDropoutMatchFiniteDifferences) { expect_lora_gradients_match(0.3, 3e-3); }

// Dropout acts in training only: another seed gives another loss, while
// prefill (inference) is unchanged by it.
TEST(Training, DropoutChangesTrainingNotInference) {
  TrainConfig t = tiny_train_config();
  t.lora_dropout = 0.5;
  Trainer a = make_trainer(t), plain = make_trainer(tiny_train_config());
  randomise_adapters(a);
  randomise_adapters(plain);
  Batch batch = row_batch();
  const HostTensor inv = HostTensor::scalar(DType::f32, 1.0 / 6);
  auto loss = [&](Trainer& tr, int64_t seed) {
    auto r = tr.interp->run("train_grads",
                            {batch.tokens, batch.targets, batch.weights, inv, HostTensor::scalar(DType::i64, double(seed))});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return (*r)[0].get(0);
  };
  EXPECT_NE(loss(a, 1), loss(a, 2));
  EXPECT_EQ(loss(a, 1), loss(a, 1));
  EXPECT_EQ(loss(plain, 1), loss(plain, 2));
  auto pa = a.interp->run("prefill", {batch.tokens});
  auto pb = plain.interp->run("prefill", {batch.tokens});
  ASSERT_TRUE(pa.ok() && pb.ok());
  EXPECT_EQ((*pa)[0].floats(), (*pb)[0].floats());
}

// Tokens with weight 0 change neither the loss nor the gradients.
TEST(Training, IgnoredTokensDoNotCount) {
  Trainer tr = make_trainer(tiny_train_config());
  randomise_adapters(tr);
  Batch batch = row_batch();
  const HostTensor inv = HostTensor::scalar(DType::f32, 1.0 / 6);
  const HostTensor seed = HostTensor::scalar(DType::i64, 0);
  auto a = tr.interp->run("train_grads", {batch.tokens, batch.targets, batch.weights, inv, seed});
  Batch other = batch;
  other.targets.set_int(0, 40);  // a different target where the weight is 0
  other.targets.set_int(1, 3);
  auto b = tr.interp->run("train_grads", {other.tokens, other.targets, other.weights, inv, seed});
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].floats(), (*b)[i].floats()) << i;
}

double lr_at(const LearningRateSchedule& s, int64_t step) {
  Module m("lr");
  Builder b = Builder::function(m, "f");
  Val st = b.param(TensorType(DType::i64, {}), "step");
  b.ret({learning_rate(b, st, s)});
  ReferenceInterpreter interp(m);
  auto out = interp.run("f", {HostTensor::scalar(DType::i64, double(step))});
  EXPECT_TRUE(out.ok()) << out.error().message;
  return (*out)[0].get(0);
}

// The schedules against their formulas, at f32 precision (rel 1e-6).
TEST(Training, LearningRateSchedules) {
  LearningRateSchedule s;
  s.lr = 0.1;
  EXPECT_NEAR(lr_at(s, 0), 0.1, 1e-7);
  EXPECT_NEAR(lr_at(s, 1000), 0.1, 1e-7);
  s.kind = "warmup";
  s.warmup_steps = 4;
  EXPECT_NEAR(lr_at(s, 0), 0.025, 1e-7);
  EXPECT_NEAR(lr_at(s, 3), 0.1, 1e-7);
  EXPECT_NEAR(lr_at(s, 50), 0.1, 1e-7);
  s.kind = "cosine";
  s.total_steps = 14;
  s.min_ratio = 0.1;
  auto cosine = [](double p) { return 0.1 * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * p))); };
  EXPECT_NEAR(lr_at(s, 1), 0.05, 1e-7);
  EXPECT_NEAR(lr_at(s, 4), cosine(0.0), 1e-7);
  EXPECT_NEAR(lr_at(s, 9), cosine(0.5), 1e-7);
  EXPECT_NEAR(lr_at(s, 14), cosine(1.0), 1e-7);
  EXPECT_NEAR(lr_at(s, 40), cosine(1.0), 1e-7);
  s.kind = "cosine_restarts";
  s.restart_every = 5;
  EXPECT_NEAR(lr_at(s, 4), cosine(0.0), 1e-7);
  EXPECT_NEAR(lr_at(s, 6), cosine(0.4), 1e-7);
  EXPECT_NEAR(lr_at(s, 9), cosine(0.0), 1e-7);  // restarted
  EXPECT_NEAR(lr_at(s, 11), cosine(0.4), 1e-7);
  s.kind = "linear";
  EXPECT_FALSE(s.validate().ok());
}

std::vector<double> train_losses(const std::string& optimizer, int steps) {
  TrainConfig t = tiny_train_config();
  t.optimizer.kind = optimizer;
  if (optimizer == "sgd") t.optimizer.schedule.lr = 0.1;
  Trainer tr = make_trainer(t);
  auto init = tr.interp->run("lora_init", {HostTensor::scalar(DType::i64, 1)});
  EXPECT_TRUE(init.ok()) << init.error().message;
  std::vector<int64_t> text = {2, 17, 5, 33, 8, 8, 41, 12, 29, 3, 30, 9, 9, 22, 14, 7, 40, 1};
  std::vector<int64_t> tok, tgt;
  for (int r = 0; r < 2; ++r)
    for (int64_t i = 0; i < kSeq; ++i) {
      tok.push_back(text[r * 9 + i]);
      tgt.push_back(text[r * 9 + i + 1]);
    }
  HostTensor weights(DType::f32, {2, kSeq});
  for (int64_t i = 0; i < weights.numel(); ++i) weights.set(i, 1);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    auto out = tr.interp->run("train_step", {ids({2, kSeq}, tok), ids({2, kSeq}, tgt), weights});
    EXPECT_TRUE(out.ok()) << out.error().message;
    if (!out.ok()) break;
    losses.push_back((*out)[0].get(0));
    EXPECT_TRUE(std::isfinite((*out)[1].get(0)));
  }
  EXPECT_EQ(tr.interp->state("train.step").get(0), steps);
  return losses;
}

// Two fixed sequences memorised by rank-2 adapters: the loss must fall by a
// large factor (it starts near ln 48 = 3.9 on the random model).
TEST(Training, LossFallsWithAdamW) {
  std::vector<double> l = train_losses("adamw", 40);
  ASSERT_EQ(l.size(), 40u);
  EXPECT_LT(l.back(), 0.5 * l.front()) << l.front() << " -> " << l.back();
}

TEST(Training, LossFallsWithSgdMomentum) {
  std::vector<double> l = train_losses("sgd", 40);
  ASSERT_EQ(l.size(), 40u);
  EXPECT_LT(l.back(), 0.8 * l.front()) << l.front() << " -> " << l.back();
}

// @train_loop reads its batches from the token stream in the given order and
// reports every step: the same losses and parameters as calling @train_step
// with those batches, and it stops when the host answers false.
TEST(Training, TrainLoopEqualsTrainStepCalls) {
  TrainConfig t = tiny_train_config(1);
  Trainer a = make_trainer(t), b = make_trainer(t);
  for (Trainer* tr : {&a, &b}) ASSERT_TRUE(tr->interp->run("lora_init", {HostTensor::scalar(DType::i64, 1)}).ok());
  std::vector<int64_t> stream_ids;
  for (int64_t i = 0; i < 4 * (kSeq + 1); ++i) stream_ids.push_back((i * 11 + 3) % 48);
  const HostTensor stream = ids({4, kSeq + 1}, stream_ids);
  const std::vector<int64_t> order_ids = {2, 0, 3};
  std::vector<double> reported;
  a.interp->set_emit_handler([&](const std::string& channel, const HostTensor& v) {
    EXPECT_EQ(channel, "train_step");
    reported.push_back(v.get(0));
    return reported.size() < 3;  // the host stops it after the third step
  });
  auto out = a.interp->run("train_loop", {stream, ids({4, 1}, {2, 0, 3, 1}), HostTensor::scalar(DType::i64, 4)});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ((*out)[3].get(0), 3);  // steps done
  ASSERT_EQ(reported.size(), 3u);
  HostTensor weights(DType::f32, {1, kSeq});
  for (int64_t i = 0; i < kSeq; ++i) weights.set(i, 1);
  for (size_t k = 0; k < 3; ++k) {
    const int64_t row = order_ids[k];
    std::vector<int64_t> tok(stream_ids.begin() + row * (kSeq + 1), stream_ids.begin() + row * (kSeq + 1) + kSeq);
    std::vector<int64_t> tgt(stream_ids.begin() + row * (kSeq + 1) + 1, stream_ids.begin() + (row + 1) * (kSeq + 1));
    auto r = b.interp->run("train_step", {ids({1, kSeq}, tok), ids({1, kSeq}, tgt), weights});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ((*r)[0].get(0), reported[k]) << "step " << k;
    EXPECT_EQ((*r)[0].get(0), (*out)[0].get(int64_t(k)));
  }
  for (const std::string& p : trainable_parameters(*a.m, "*.lora_a|*.lora_b"))
    EXPECT_EQ(a.interp->state(p).floats(), b.interp->state(p).floats()) << p;
}

// Full fine-tuning: weights-to-state makes every weight trainable state. The
// tied embedding gets gradients from the lookup (scatter_add) and from the
// loss's head (the cross-entropy loop); both are checked against finite
// differences, with the tolerance of the LoRA check above.
TEST(Training, FullFineTuningGradientsAndLoss) {
  TrainConfig t = tiny_train_config(1);
  t.adapters = "weights-to-state";
  t.trainable = kGemma3AllWeights;
  t.optimizer.schedule.lr = 3e-3;
  auto m = build_gemma3(tiny_gemma3_config());
  Status s = add_training(*m, tiny_gemma3_config(), t);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(verify_module(*m).ok()) << verify_module(*m).error().message;
  const std::vector<std::string> params = trainable_parameters(*m, kGemma3AllWeights);
  EXPECT_EQ(params.size(), 2u + 2 * 13);  // embed, final_norm, 13 per layer
  ReferenceInterpreter interp(*m);
  auto base = build_gemma3(tiny_gemma3_config());
  for (auto& [name, w] : demo_weights(*base, 5)) interp.set_state(name, w);

  Batch batch = row_batch();
  const HostTensor inv = HostTensor::scalar(DType::f32, 1.0 / 6);
  const HostTensor seed = HostTensor::scalar(DType::i64, 0);
  auto run = [&]() { return interp.run("train_grads", {batch.tokens, batch.targets, batch.weights, inv, seed}); };
  auto out = run();
  ASSERT_TRUE(out.ok()) << out.error().message;
  const double h = 1e-2;
  for (const std::string p : {"embed", "final_norm", "layer.0.q_proj", "layer.1.attn_norm", "layer.1.down_proj"}) {
    const size_t i = std::find(params.begin(), params.end(), p) - params.begin();
    ASSERT_LT(i, params.size()) << p;
    const HostTensor& grad = (*out)[1 + i];
    HostTensor w = interp.state(p);
    // For the embedding: a row of a token in the text (both paths) and one
    // that is not (the head only).
    std::vector<int64_t> elements = {0, w.numel() / 2, w.numel() - 1};
    if (p == "embed") elements = {17 * 16 + 3, 33 * 16 + 9, 40 * 16 + 1};
    for (int64_t j : elements) {
      HostTensor plus = w, minus = w;
      plus.set(j, w.get(j) + h);
      minus.set(j, w.get(j) - h);
      interp.set_state(p, plus);
      const double lp = (*run())[0].get(0);
      interp.set_state(p, minus);
      const double lm = (*run())[0].get(0);
      interp.set_state(p, w);
      const double numeric = (lp - lm) / (2 * h);
      EXPECT_LE(std::fabs(numeric - grad.get(j)), 2e-3 + 2e-2 * std::fabs(grad.get(j)))
          << p << "[" << j << "]: numeric " << numeric << ", analytic " << grad.get(j);
    }
  }
  // A few AdamW steps on the one batch.
  HostTensor tokens = batch.tokens.reshaped({1, kSeq}), targets = batch.targets.reshaped({1, kSeq});
  HostTensor weights = batch.weights.reshaped({1, kSeq});
  double first = 0, last = 0;
  for (int step = 0; step < 15; ++step) {
    auto r = interp.run("train_step", {tokens, targets, weights});
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (step == 0) first = (*r)[0].get(0);
    last = (*r)[0].get(0);
  }
  EXPECT_LT(last, 0.5 * first) << first << " -> " << last;
}

TEST(Training, BadConfigurationsAreNamed) {
  auto m = build_gemma3(tiny_gemma3_config());
  TrainConfig t = tiny_train_config();
  t.adapters.clear();
  Status s = add_training(*m, tiny_gemma3_config(), t);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("no state global matches"), std::string::npos) << s.error().message;
  auto m2 = build_gemma3(tiny_gemma3_config());
  t = tiny_train_config();
  t.optimizer.kind = "adam";
  s = add_training(*m2, tiny_gemma3_config(), t);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("expected adamw or sgd"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace graphc
