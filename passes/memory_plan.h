// The unified memory plan of one function: where every value lives at run
// time. Intermediates get offsets in one arena chosen from their liveness
// over the program's order; weights stay in the (mapped) checkpoint, state in
// its persistent region, constants in read-only data; a reshape is a view of
// its operand; an op that allows it writes its result over an operand that
// dies there; and the KV-cache update (dynamic_update_slice of a state,
// stored back into that state) is done in the state's own region.
//
// The CPU backend places values by this plan; plan-memory and pass-dump
// --plan print it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/module.h"
#include "ir/status.h"
#include "ir/type.h"

namespace graphc {

enum class Placement {
  Arena,     // at `offset` in the function's arena
  Weight,    // a weight global, outside the arena
  State,     // a state global's persistent region (`global`)
  Constant,  // read-only data of the program
  Alias,     // the same bytes as `alias_of` (a reshape)
};

struct ValuePlacement {
  Placement kind = Placement::Arena;
  int64_t offset = 0;  // Arena: byte offset (every value of an in-place chain shares it)
  int64_t bytes = 0;
  const Value* alias_of = nullptr;   // Alias: the operand viewed
  const Value* in_place_of = nullptr;  // Arena: the operand whose bytes it overwrites
  std::string global;                // Weight / State: the global's name
  int64_t first = 0, last = 0;       // Arena: the liveness interval in program order
};

struct MemoryPlan {
  std::string function;
  int64_t arena_bytes = 0;        // the arena's size
  int64_t lower_bound_bytes = 0;  // the most bytes of arena values ever live at once
  int64_t weight_bytes = 0, state_bytes = 0, constant_bytes = 0;
  int64_t state_updated_in_place = 0;  // KV-cache-style updates that write into their state
  int64_t in_place = 0;                // results written over a dying operand
  std::unordered_map<const Value*, ValuePlacement> placement;
  std::vector<const Value*> order;  // every placed value, in program order

  // A header line, then one line per arena value (name, type, offset, bytes,
  // interval, in place of what).
  std::string report() const;
  std::string to_json() const;
};

struct PlanOptions {
  int64_t alignment = 64;
  bool in_place = true;  // results over dying operands where the op allows it
};

// Symbolic dims are resolved with `bindings`; an unbound one is an error
// naming the value.
Expected<MemoryPlan> plan_memory(const Function& fn, const SymbolBindings& bindings, const PlanOptions& options = {});

}  // namespace graphc
