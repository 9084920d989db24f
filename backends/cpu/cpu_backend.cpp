#include "backends/cpu/cpu_backend.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "backends/cpu/native_tensor.h"
#include "backends/reference/reference_kernels.h"
#include "codegen/cpu_features.h"
#include "codegen/elementwise_kernel.h"
#include "codegen/jit_engine.h"
#include "codegen/kernel_call.h"
#include "ir/op_registry.h"
#include "passes/memory_plan.h"
#include "runtime/executor.h"

namespace graphc {
namespace {

std::string bindings_key(const std::string& function, const SymbolBindings& b) {
  std::string k = function;
  for (const auto& [s, v] : b) k += fmt::format(";{}={}", s, v);
  return k;
}

std::string describe(const Op& op) {
  std::string where = op.line() > 0 ? fmt::format("line {}: ", op.line()) : "";
  const std::string result = op.num_results() > 0 && !op.result(0)->name().empty() ? " %" + op.result(0)->name() : "";
  return where + op.name() + result;
}

// Memory owned by the backend for one tensor in its native layout.
struct Buffer {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  int64_t bytes = 0;
  std::shared_ptr<void> memory;
  void* data() const { return memory.get(); }
};

Buffer make_buffer(DType dtype, std::vector<int64_t> shape) {
  Buffer b{dtype, std::move(shape)};
  b.bytes = native_bytes(dtype, b.shape);
  b.memory = allocate_aligned(b.bytes);
  return b;
}

}  // namespace

namespace cpu_program {

// ---------------------------------------------------------------------------
// A compiled program: for one function and one set of symbol bindings, every
// value has a slot holding a fixed pointer (into the arena, a weight, a state
// buffer or a constant), so each kernel launch's buffer table is built once.
// ---------------------------------------------------------------------------
struct Region;
struct Program;

struct Step {
  enum class Kind { Launch, StateSet, Loop, If, Call, Emit };
  Kind kind = Kind::Launch;
  const Op* op = nullptr;
  int kernel = -1;                // Launch: index into Program::sources / fns
  std::vector<int> slots;         // operands, then results
  KernelLaunch launch;            // Launch: filled when the program is bound
  std::vector<Region*> regions;  // Loop (1) / If (2)
  Program* callee = nullptr;      // Call
  std::string state;                     // StateSet; Emit: the channel
};

struct Region {
  std::vector<Step> steps;
  std::vector<std::vector<int>> groups;  // indices of steps that may run concurrently
  std::vector<int> arg_slots;
  std::vector<int> yield_slots;
};

struct SlotInfo {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  int64_t bytes = 0;
  std::optional<GgmlType> packed;
  void* ptr = nullptr;
  int64_t numel_rows() const {
    int64_t n = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) n *= shape[i];
    return n;
  }
};

struct Program {
  const Function* fn = nullptr;
  SymbolBindings bindings;
  std::vector<SlotInfo> slots;
  std::vector<std::unique_ptr<Region>> regions;  // [0] is the body
  std::vector<KernelSource> sources;
  std::vector<KernelFn> fns;
  std::vector<int> param_slots, result_slots;
  std::shared_ptr<void> arena;
  int64_t arena_bytes = 0, lower_bound_bytes = 0;
  std::string plan_report, plan_json;
  std::vector<Buffer> constants;
  std::vector<std::shared_ptr<void>> scratch;  // KernelCall::scratch_bytes, one per launch that asks
  int launches = 0;
  bool running = false;
};

}  // namespace cpu_program

using namespace cpu_program;

class CpuBackend::Impl {
 public:
  Impl(const Module& module, CpuBackendOptions options)
      : module_(module), options_(std::move(options)), executor_(options_.threads) {}

  const Module& module_;
  CpuBackendOptions options_;
  Executor executor_;
  std::unique_ptr<JitEngine> jit_;
  std::map<std::string, WeightData> weights_;
  WeightProvider provider_;
  EmitHandler emit_handler_;
  std::map<std::string, Buffer> state_;
  std::map<std::string, std::unique_ptr<Program>> programs_;
  std::map<std::string, int> kernel_of_key_;  // dedupe across a compile
  CompileStats stats_;
  std::recursive_mutex mutex_;
  struct ProfileEntry {
    int64_t calls = 0;
    double seconds = 0;
  };
  std::map<std::string, ProfileEntry> profile_;

  Status ensure_jit() {
    if (jit_) return {};
    auto jit = JitEngine::create(options_.cache_dir);
    if (!jit.ok()) return jit.error();
    jit_ = std::move(*jit);
    return {};
  }

  Buffer& state_buffer(const std::string& name) {
    auto it = state_.find(name);
    if (it != state_.end()) return it->second;
    const Global* g = module_.global(name);
    if (!g || g->kind != GlobalKind::State) throw GraphcError("unknown state @" + name);
    return state_[name] = make_buffer(g->type.dtype, to_static(g->type.shape));
  }

  const WeightData& weight_data(const std::string& name) {
    auto it = weights_.find(name);
    if (it != weights_.end()) return it->second;
    const Global* g = module_.global(name);
    if (!g || g->kind != GlobalKind::Weight) throw GraphcError("unknown weight @" + name);
    if (!g->initializer.empty()) {
      // A derived weight: computed once by its initializer, on this backend.
      auto r = run(g->initializer, {});
      if (!r.ok()) throw GraphcError(fmt::format("computing weight @{}: {}", name, r.error().message));
      if (r->size() != 1 || (*r)[0].type() != g->type)
        throw GraphcError(fmt::format("initializer @{} of weight @{} does not return {}", g->initializer, name,
                                      g->type.str()));
      set_weight(name, (*r)[0]);
      return weights_.at(name);
    }
    if (!provider_) throw GraphcError("weight @" + name + " is not bound");
    auto data = provider_(*g);
    if (!data.ok()) throw GraphcError(data.error().message);
    return weights_[name] = std::move(*data);
  }

  void set_weight(const std::string& name, const HostTensor& value) {
    Buffer b = make_buffer(value.dtype(), value.shape());
    to_native(value, b.data());
    weights_[name] = WeightData{b.data(), std::nullopt, b.memory};
  }

  // ---- compile ----

  struct Builder {
    Impl& impl;
    Program& p;
    std::unordered_map<const Value*, int> slot_of;
    std::vector<std::pair<int, int64_t>> arena_slots;  // slot, offset

    int new_slot(const Value* v, SlotInfo info) {
      p.slots.push_back(std::move(info));
      const int s = static_cast<int>(p.slots.size()) - 1;
      if (v) slot_of[v] = s;
      return s;
    }
    // An intermediate in the arena.
    // A value at its offset in the arena, as the memory plan placed it.
    int arena_slot(const Value* v) {
      SlotInfo info;
      info.dtype = v->dtype();
      info.shape = substitute(v->shape(), p.bindings);
      info.bytes = native_bytes(info.dtype, info.shape);
      const ValuePlacement& where = plan.placement.at(v);
      if (where.kind != Placement::Arena)
        throw GraphcError("the memory plan does not place this value in the arena");
      const int s = new_slot(v, info);
      arena_slots.emplace_back(s, where.offset);
      return s;
    }

    BufferInfo buffer_info(int slot) const {
      const SlotInfo& s = p.slots[slot];
      return BufferInfo{s.dtype, s.shape, s.packed};
    }

    Status build_region(const Block& block, Region& region) {
      for (int i = 0; i < block.num_args(); ++i) region.arg_slots.push_back(arena_slot(block.arg(i)));
      for (const auto& op : block.ops()) {
        try {
          if (Status s = build_op(*op, region); !s.ok()) return s;
        } catch (const std::exception& e) {
          return Error{fmt::format("in @{}, {}: {}", p.fn->name(), describe(*op), e.what())};
        }
      }
      return {};
    }

    Status build_op(const Op& op, Region& region) {
      const std::string& name = op.name();
      auto fail = [&](const std::string& why) -> Status {
        return Error{fmt::format("in @{}, {}: {}", p.fn->name(), describe(op), why)};
      };
      if (name == "return" || name == "yield") {
        for (Value* v : op.operands()) region.yield_slots.push_back(slot_of.at(v));
        return {};
      }
      if (name == "weight") {
        const std::string w = op.attr("name").as_symbol();
        const WeightData& data = impl.weight_data(w);
        SlotInfo info{op.result()->dtype(), to_static(op.result()->shape())};
        info.packed = data.packed;
        info.bytes = native_bytes(info.dtype, info.shape);
        if (data.packed && !info.shape.empty()) {
          auto row = row_bytes(*data.packed, info.shape.back());
          if (!row) return fail(fmt::format("weight @{} has rows of {} elements, not whole {} blocks", w,
                                            info.shape.back(), ggml_type_name(*data.packed)));
          info.bytes = *row * (info.numel_rows());
        }
        info.ptr = const_cast<void*>(data.data);
        new_slot(op.result(), info);
        return {};
      }
      if (name == "state_get") {
        Buffer& b = impl.state_buffer(op.attr("name").as_symbol());
        new_slot(op.result(), SlotInfo{b.dtype, b.shape, b.bytes, std::nullopt, b.data()});
        return {};
      }
      if (name == "constant") {
        // The reference semantics make the value; it is stored once.
        struct NoContext : ReferenceContext {
          const Program& p;
          explicit NoContext(const Program& p) : p(p) {}
          std::vector<int64_t> result_shape(const Op& o, int i) override { return substitute(o.result(i)->shape(), p.bindings); }
          std::vector<TensorPtr> run_region(const Block&, std::vector<TensorPtr>) override { return {}; }
          std::vector<TensorPtr> call(const std::string&, std::vector<TensorPtr>) override { return {}; }
          TensorPtr weight(const std::string&) override { return nullptr; }
          TensorPtr state_at_entry(const std::string&) override { return nullptr; }
          void set_state(const std::string&, TensorPtr) override {}
        } ctx(p);
        KernelResults r = (*ReferenceKernels::instance().find("constant"))(op, {}, ctx);
        const HostTensor& t = *r.values.at(0);
        Buffer b = make_buffer(t.dtype(), t.shape());
        to_native(t, b.data());
        new_slot(op.result(), SlotInfo{b.dtype, b.shape, b.bytes, std::nullopt, b.data()});
        p.constants.push_back(std::move(b));
        return {};
      }
      if (name == "reshape") {
        // Same bytes, another shape: a slot of its own over the same memory.
        const int from = slot_of.at(op.operand(0));
        if (p.slots[from].packed) return fail("cannot reshape a weight kept in a block format");
        SlotInfo info = p.slots[from];
        info.shape = substitute(op.result()->shape(), p.bindings);
        const int s = new_slot(op.result(), info);
        aliases.emplace_back(s, from);
        return {};
      }
      if (name == "state_set") {
        Step st;
        st.kind = Step::Kind::StateSet;
        st.op = &op;
        st.state = op.attr("name").as_symbol();
        st.slots = {slot_of.at(op.operand(0))};
        impl.state_buffer(st.state);
        region.steps.push_back(std::move(st));
        return {};
      }
      if (name == "emit") {
        Step st;
        st.kind = Step::Kind::Emit;
        st.op = &op;
        st.state = op.attr_string("channel");
        st.slots = {slot_of.at(op.operand(0)), arena_slot(op.result(0))};
        region.steps.push_back(std::move(st));
        return {};
      }
      if (name == "loop" || name == "if") {
        Step st;
        st.kind = name == "loop" ? Step::Kind::Loop : Step::Kind::If;
        st.op = &op;
        for (Value* v : op.operands()) st.slots.push_back(slot_of.at(v));
        for (const auto& r : op.regions()) {
          p.regions.push_back(std::make_unique<Region>());
          Region* sub = p.regions.back().get();
          if (Status s = build_region(*r, *sub); !s.ok()) return s;
          st.regions.push_back(sub);
        }
        for (int i = 0; i < op.num_results(); ++i) st.slots.push_back(arena_slot(op.result(i)));
        region.steps.push_back(std::move(st));
        return {};
      }
      if (name == "call") {
        Step st;
        st.kind = Step::Kind::Call;
        st.op = &op;
        const std::string callee = op.attr("callee").as_symbol();
        const Function* f = impl.module_.function(callee);
        if (!f) return fail("unknown function @" + callee);
        SymbolBindings b;
        for (int i = 0; i < op.num_operands(); ++i) {
          const Shape& want = f->param(i)->shape();
          const auto got = substitute(op.operand(i)->shape(), p.bindings);
          for (size_t d = 0; d < want.size(); ++d)
            if (!want[d].is_static()) b[want[d].symbol] = got[d];
        }
        auto prog = impl.program(callee, b);
        if (!prog.ok()) return prog.error();
        st.callee = *prog;
        for (Value* v : op.operands()) st.slots.push_back(slot_of.at(v));
        for (int i = 0; i < op.num_results(); ++i) st.slots.push_back(arena_slot(op.result(i)));
        region.steps.push_back(std::move(st));
        return {};
      }

      // Everything else is a kernel.
      Step st;
      st.kind = Step::Kind::Launch;
      st.op = &op;
      for (Value* v : op.operands()) st.slots.push_back(slot_of.at(v));
      if (op.num_results() == 1 && plan.placement.at(op.result(0)).kind == Placement::State) {
        // The KV-cache pattern (passes/memory_plan.h): the update is written
        // into the state's own buffer, so neither the update nor the
        // state_set copies the cache.
        SlotInfo info = p.slots[slot_of.at(op.operand(0))];
        st.slots.push_back(new_slot(op.result(0), info));
      } else {
        for (int i = 0; i < op.num_results(); ++i) st.slots.push_back(arena_slot(op.result(i)));
      }
      LoweringContext ctx{op, {}, {}, host_cpu_features()};
      for (int i = 0; i < op.num_operands(); ++i) ctx.operands.push_back(buffer_info(st.slots[i]));
      for (int i = 0; i < op.num_results(); ++i) ctx.results.push_back(buffer_info(st.slots[op.num_operands() + i]));
      KernelSource source;
      int64_t extent = 1, grain = 1;
      std::string key;
      if (op.def().is_elementwise || name == "fused_elementwise") {
        auto k = elementwise_kernel_for(ctx);
        if (!k.ok()) return fail(k.error().message);
        extent = k->rows();
        grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, k->row_len()));
        key = k->key();
        source = std::move(*k);
      } else {
        const Lowering* lowering = KernelLowerings::instance().find(name);
        if (!lowering) return fail("no CPU kernel for op '" + name + "'");
        auto call = (*lowering)(ctx);
        if (!call.ok()) return fail(call.error().message);
        extent = call->extent;
        grain = std::max<int64_t>(1, call->grain);
        key = call->key();
        if (call->scratch_bytes > 0) {
          // Zeroed by allocate_aligned; written by this launch only.
          p.scratch.push_back(allocate_aligned(call->scratch_bytes));
          st.slots.push_back(new_slot(nullptr, SlotInfo{DType::boolean, {call->scratch_bytes}, call->scratch_bytes,
                                                        std::nullopt, p.scratch.back().get()}));
        }
        source = std::move(*call);
      }
      auto [it, inserted] = kernel_index.emplace(key, static_cast<int>(p.sources.size()));
      if (inserted) p.sources.push_back(std::move(source));
      st.kernel = it->second;
      st.launch.extent = extent;
      st.launch.grain = grain;
      ++p.launches;
      region.steps.push_back(std::move(st));
      return {};
    }

    std::map<std::string, int> kernel_index;
    std::vector<std::pair<int, int>> aliases;  // slot, slot it aliases
    MemoryPlan plan;
  };

  // Byte ranges a step reads and writes, for deciding what may run together.
  static bool overlaps(const SlotInfo& a, const SlotInfo& b) {
    const auto* pa = static_cast<const char*>(a.ptr);
    const auto* pb = static_cast<const char*>(b.ptr);
    return pa < pb + std::max<int64_t>(b.bytes, 1) && pb < pa + std::max<int64_t>(a.bytes, 1);
  }

  // Consecutive launches that neither read what another writes nor write
  // where another reads or writes form a group run concurrently.
  static void group_steps(Program& p, Region& r) {
    std::vector<int> current;
    auto conflicts = [&](const Step& a, const Step& b) {
      const int na = a.op->num_operands(), nb = b.op->num_operands();
      for (size_t i = na; i < a.slots.size(); ++i)  // a's writes vs b's everything
        for (int sb : b.slots)
          if (overlaps(p.slots[a.slots[i]], p.slots[sb])) return true;
      for (size_t j = nb; j < b.slots.size(); ++j)
        for (int sa : a.slots)
          if (overlaps(p.slots[b.slots[j]], p.slots[sa])) return true;
      return false;
    };
    for (int i = 0; i < static_cast<int>(r.steps.size()); ++i) {
      const Step& s = r.steps[i];
      bool joins = s.kind == Step::Kind::Launch && !current.empty() &&
                   r.steps[current.back()].kind == Step::Kind::Launch;
      for (int j : current)
        if (joins && conflicts(r.steps[j], s)) joins = false;
      if (!joins && !current.empty()) {
        r.groups.push_back(current);
        current.clear();
      }
      current.push_back(i);
    }
    if (!current.empty()) r.groups.push_back(current);
  }

  // f64 exists for gradient checks on the reference interpreter; the kernels
  // here are written for f32 and the narrower types.
  static Status reject_f64(const Block& block, const std::string& function) {
    for (const auto& op : block.ops()) {
      for (int i = 0; i < op->num_results(); ++i)
        if (op->result(i)->type().dtype == DType::f64)
          return Error{fmt::format("@{}: {} makes an f64 value; the cpu backend runs f32, bf16 and f16 only "
                                   "(f64 is for the reference interpreter)",
                                   function, op->name())};
      for (int r = 0; r < op->num_regions(); ++r)
        if (Status s = reject_f64(*op->region(r), function); !s.ok()) return s;
    }
    for (int i = 0; i < block.num_args(); ++i)
      if (block.arg(i)->type().dtype == DType::f64)
        return Error{fmt::format("@{}: an f64 argument; the cpu backend runs f32, bf16 and f16 only", function)};
    return {};
  }

  Expected<Program*> program(const std::string& function, const SymbolBindings& bindings) {
    const std::string key = bindings_key(function, bindings);
    if (auto it = programs_.find(key); it != programs_.end()) return it->second.get();
    if (Status s = ensure_jit(); !s.ok()) return s.error();
    const Function* fn = module_.function(function);
    if (!fn) return Error{"unknown function @" + function};
    if (Status s = reject_f64(*fn->body(), function); !s.ok()) return s.error();
    const auto start = std::chrono::steady_clock::now();
    auto p = std::make_unique<Program>();
    p->fn = fn;
    p->bindings = bindings;
    auto plan = plan_memory(*fn, bindings);
    if (!plan.ok()) return plan.error();
    Builder b{*this, *p};
    b.plan = std::move(*plan);
    p->arena_bytes = b.plan.arena_bytes;
    p->lower_bound_bytes = b.plan.lower_bound_bytes;
    p->plan_report = b.plan.report();
    p->plan_json = b.plan.to_json();
    p->regions.push_back(std::make_unique<Region>());
    try {
      if (Status s = b.build_region(*fn->body(), *p->regions[0]); !s.ok()) return s.error();
    } catch (const std::exception& e) {
      return Error{e.what()};
    }
    p->param_slots = p->regions[0]->arg_slots;
    p->result_slots = p->regions[0]->yield_slots;

    // The arena, then every slot's pointer.
    p->arena = allocate_aligned(std::max<int64_t>(p->arena_bytes, 64));
    for (auto [slot, offset] : b.arena_slots) p->slots[slot].ptr = static_cast<char*>(p->arena.get()) + offset;
    for (auto [slot, from] : b.aliases) p->slots[slot].ptr = p->slots[from].ptr;

    JitCompileReport report;
    auto fns = jit_->compile(p->sources, &report);
    if (!fns.ok()) return Error{fmt::format("compiling @{}: {}", function, fns.error().message)};
    p->fns = std::move(*fns);
    for (auto& region : p->regions) {
      for (Step& st : region->steps) {
        if (st.kind != Step::Kind::Launch) continue;
        st.launch.fn = p->fns[st.kernel];
        for (int s : st.slots) st.launch.buffers.push_back(p->slots[s].ptr);
      }
      group_steps(*p, *region);
    }
    stats_.functions += 1;
    stats_.kernels += p->launches;
    stats_.unique_kernels += static_cast<int>(p->sources.size());
    (report.cache_hit ? stats_.cache_hits : stats_.cache_misses) += 1;
    stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (p->arena_bytes >= stats_.arena_bytes) {
      stats_.arena_bytes = p->arena_bytes;
      stats_.lower_bound_bytes = p->lower_bound_bytes;
    }
    Program* raw = p.get();
    programs_[key] = std::move(p);
    return raw;
  }

  // ---- run ----

  void copy_slot(Program& p, int to, int from) {
    if (p.slots[to].ptr != p.slots[from].ptr) std::memmove(p.slots[to].ptr, p.slots[from].ptr, p.slots[from].bytes);
  }

  // Runs a region; state updates are appended to `pending`.
  void run_region(Program& p, Region& r, std::vector<std::pair<std::string, int>>& pending) {
    for (const std::vector<int>& group : r.groups) {
      const Step& first = r.steps[group[0]];
      if (first.kind == Step::Kind::Launch) {
        std::vector<const KernelLaunch*> launches;
        for (int i : group) launches.push_back(&r.steps[i].launch);
        if (!options_.profile) {
          executor_.run_group(launches);
          continue;
        }
        const auto start = std::chrono::steady_clock::now();
        executor_.run_group(launches);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        // A group's time is shared by its launches (they ran together).
        for (int i : group) {
          const Op& op = *r.steps[i].op;
          ProfileEntry& e = profile_[op.name() + " " + op.result(0)->type().str()];
          e.calls += 1;
          e.seconds += s / double(group.size());
        }
        continue;
      }
      const Step& st = first;
      const int n_in = st.op->num_operands();
      switch (st.kind) {
        case Step::Kind::StateSet: pending.emplace_back(st.state, st.slots[0]); break;
        case Step::Kind::Emit: {
          const SlotInfo& v = p.slots[st.slots[0]];
          const bool answer = emit_handler_ && emit_handler_(st.state, from_native(v.dtype, v.shape, v.ptr));
          *static_cast<uint8_t*>(p.slots[st.slots[1]].ptr) = answer ? 1 : 0;
          break;
        }
        case Step::Kind::If: {
          const bool cond = *static_cast<const uint8_t*>(p.slots[st.slots[0]].ptr) != 0;
          Region& body = *st.regions[cond ? 0 : 1];
          run_region(p, body, pending);
          for (size_t i = 0; i < body.yield_slots.size(); ++i) copy_slot(p, st.slots[n_in + i], body.yield_slots[i]);
          break;
        }
        case Step::Kind::Loop: {
          Region& body = *st.regions[0];
          const int64_t trips = read_int(p.slots[st.slots[0]]);
          const bool has_exit = st.op->attr_bool("has_exit");
          const size_t carried = body.arg_slots.size() - 1;
          for (size_t i = 0; i < carried; ++i) copy_slot(p, body.arg_slots[1 + i], st.slots[1 + i]);
          std::vector<std::vector<char>> next(carried);
          for (int64_t t = 0; t < trips; ++t) {
            *static_cast<int64_t*>(p.slots[body.arg_slots[0]].ptr) = t;
            run_region(p, body, pending);
            const size_t first_carried = has_exit ? 1 : 0;
            // Through temporaries: a yield may be another carried value's buffer.
            for (size_t i = 0; i < carried; ++i) {
              const SlotInfo& y = p.slots[body.yield_slots[first_carried + i]];
              next[i].assign(static_cast<const char*>(y.ptr), static_cast<const char*>(y.ptr) + y.bytes);
            }
            for (size_t i = 0; i < carried; ++i) std::memcpy(p.slots[body.arg_slots[1 + i]].ptr, next[i].data(), next[i].size());
            if (has_exit && *static_cast<const uint8_t*>(p.slots[body.yield_slots[0]].ptr) != 0) break;
          }
          for (size_t i = 0; i < carried; ++i) copy_slot(p, st.slots[n_in + i], body.arg_slots[1 + i]);
          break;
        }
        case Step::Kind::Call: {
          std::vector<const void*> args;
          for (int i = 0; i < n_in; ++i) args.push_back(p.slots[st.slots[i]].ptr);
          std::vector<void*> results;
          for (size_t i = n_in; i < st.slots.size(); ++i) results.push_back(p.slots[st.slots[i]].ptr);
          run_program(*st.callee, args, results);
          break;
        }
        case Step::Kind::Launch: break;
      }
    }
  }

  static int64_t read_int(const SlotInfo& s) {
    if (s.dtype == DType::i32) return *static_cast<const int32_t*>(s.ptr);
    if (s.dtype == DType::i64) return *static_cast<const int64_t*>(s.ptr);
    throw GraphcError("a loop's trip count must be an integer");
  }

  // Runs a program on native arguments, writing native results; state
  // updates take effect when it returns.
  void run_program(Program& p, const std::vector<const void*>& args, const std::vector<void*>& results) {
    if (p.running) throw GraphcError("@" + p.fn->name() + " calls itself, which the CPU backend does not support");
    p.running = true;
    struct Reset {
      Program& p;
      ~Reset() { p.running = false; }
    } reset{p};
    for (size_t i = 0; i < args.size(); ++i)
      std::memcpy(p.slots[p.param_slots[i]].ptr, args[i], p.slots[p.param_slots[i]].bytes);
    std::vector<std::pair<std::string, int>> pending;
    run_region(p, *p.regions[0], pending);
    for (size_t i = 0; i < results.size(); ++i)
      std::memcpy(results[i], p.slots[p.result_slots[i]].ptr, p.slots[p.result_slots[i]].bytes);
    for (const auto& [name, slot] : pending) {
      Buffer& b = state_buffer(name);
      if (b.data() != p.slots[slot].ptr) std::memcpy(b.data(), p.slots[slot].ptr, b.bytes);
    }
  }

  Expected<std::vector<HostTensor>> run(const std::string& function, const std::vector<HostTensor>& args) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    try {
      const Function* fn = module_.function(function);
      if (!fn) return Error{"unknown function @" + function};
      if (static_cast<int>(args.size()) != fn->num_params())
        return Error{fmt::format("@{} takes {} arguments, {} given", function, fn->num_params(), args.size())};
      SymbolBindings bindings;
      for (int i = 0; i < fn->num_params(); ++i) {
        const TensorType& want = fn->param(i)->type();
        bool ok = want.dtype == args[i].dtype() && want.rank() == args[i].rank();
        for (int d = 0; ok && d < want.rank(); ++d) {
          const Dim& dim = want.shape[d];
          if (dim.is_static()) ok = dim.value == args[i].dim(d);
          else {
            auto [it, inserted] = bindings.emplace(dim.symbol, args[i].dim(d));
            ok = inserted || it->second == args[i].dim(d);
          }
        }
        if (!ok)
          return Error{fmt::format("argument {} of @{} must be {}, got {}", i, function, want.str(),
                                   args[i].type().str())};
      }
      auto prog = program(function, bindings);
      if (!prog.ok()) return prog.error();
      Program& p = **prog;
      std::vector<Buffer> in;
      std::vector<const void*> in_ptrs;
      for (const HostTensor& a : args) {
        in.push_back(make_buffer(a.dtype(), a.shape()));
        to_native(a, in.back().data());
        in_ptrs.push_back(in.back().data());
      }
      std::vector<Buffer> out;
      std::vector<void*> out_ptrs;
      for (int s : p.result_slots) {
        out.push_back(make_buffer(p.slots[s].dtype, p.slots[s].shape));
        out_ptrs.push_back(out.back().data());
      }
      executor_.execute([&] { run_program(p, in_ptrs, out_ptrs); });
      std::vector<HostTensor> results;
      for (const Buffer& b : out) results.push_back(from_native(b.dtype, b.shape, b.data()));
      return results;
    } catch (const std::exception& e) {
      return Error{e.what()};
    }
  }
};

CpuBackend::CpuBackend(const Module& module, CpuBackendOptions options)
    : impl_(std::make_unique<Impl>(module, std::move(options))) {}
CpuBackend::~CpuBackend() = default;

void CpuBackend::set_weight(const std::string& name, const HostTensor& value) { impl_->set_weight(name, value); }
void CpuBackend::set_weight_data(const std::string& name, WeightData data) { impl_->weights_[name] = std::move(data); }
void CpuBackend::set_weight_provider(WeightProvider provider) { impl_->provider_ = std::move(provider); }
void CpuBackend::set_emit_handler(EmitHandler handler) { impl_->emit_handler_ = std::move(handler); }

void CpuBackend::set_state(const std::string& name, const HostTensor& value) {
  Buffer& b = impl_->state_buffer(name);
  if (value.dtype() != b.dtype || value.shape() != b.shape)
    throw GraphcError(fmt::format("state @{} is {}, given {}", name, TensorType(b.dtype, from_static(b.shape)).str(),
                                  value.type().str()));
  to_native(value, b.data());
}

HostTensor CpuBackend::state(const std::string& name) {
  Buffer& b = impl_->state_buffer(name);
  return from_native(b.dtype, b.shape, b.data());
}

Status CpuBackend::compile(const std::string& function, const SymbolBindings& bindings) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex_);
  try {
    auto p = impl_->program(function, bindings);
    if (!p.ok()) return p.error();
    return {};
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

Expected<std::vector<HostTensor>> CpuBackend::run(const std::string& function, const std::vector<HostTensor>& args) {
  return impl_->run(function, args);
}

const CompileStats& CpuBackend::stats() const { return impl_->stats_; }

std::string CpuBackend::profile_report(int top) const {
  std::vector<std::pair<std::string, Impl::ProfileEntry>> rows(impl_->profile_.begin(), impl_->profile_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0;
  for (const auto& r : rows) total += r.second.seconds;
  std::string out = fmt::format("{:>10} {:>8} {:>6} {:>9}  kernel (op result-type)\n", "total ms", "calls", "share",
                                "us/call");
  for (int i = 0; i < int(rows.size()) && i < top; ++i) {
    const auto& [name, e] = rows[i];
    out += fmt::format("{:>10.2f} {:>8} {:>5.1f}% {:>9.1f}  {}\n", e.seconds * 1e3, e.calls,
                       total > 0 ? 100 * e.seconds / total : 0, e.calls ? 1e6 * e.seconds / e.calls : 0, name);
  }
  out += fmt::format("{:>10.2f} in all kernels\n", total * 1e3);
  return out;
}

std::string CpuBackend::plans_json() const {
  nlohmann::json all = nlohmann::json::object();
  for (const auto& [key, p] : impl_->programs_) all[key] = nlohmann::json::parse(p->plan_json);
  return all.dump(1);
}

Expected<std::string> CpuBackend::plan_report(const std::string& function, const SymbolBindings& bindings) const {
  auto it = impl_->programs_.find(bindings_key(function, bindings));
  if (it == impl_->programs_.end()) return Error{"@" + function + " has not been compiled with these bindings"};
  return it->second->plan_report;
}

}  // namespace graphc
