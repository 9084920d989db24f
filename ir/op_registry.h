// The op registry: every op kind is defined once, here, with its operand and
// attribute signature, type inference (which also checks the operands), and
// whether it is a terminator or has side effects. Reference semantics live in
// backends/reference, keyed by the same name; a test checks that every op
// registered here has them.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/attribute.h"
#include "ir/status.h"
#include "ir/type.h"

namespace graphc {

class Op;

struct AttrSpec {
  std::string name;
  AttrKind kind;
  std::optional<Attribute> default_value;  // nullopt: the attribute is required
  std::string doc;
  // The attribute takes several kinds (a splat or a list); type inference
  // checks it instead of the generic signature check.
  bool any_kind = false;
};

// Computes the result types from the operands, attributes and regions of a
// fully built op, or says what is wrong with them (without op name or line:
// the verifier adds those).
using InferFn = std::function<Expected<std::vector<TensorType>>(const Op&)>;

struct OpDef {
  std::string name;
  std::string summary;
  int min_operands = 0;
  int max_operands = 0;  // kVariadic: no upper bound
  std::vector<AttrSpec> attrs;
  int num_regions = 0;
  bool is_terminator = false;
  bool has_side_effects = false;  // never removed or merged by dce/cse
  bool is_elementwise = false;    // candidate for fuse-elementwise
  InferFn infer;

  static constexpr int kVariadic = -1;
  const AttrSpec* find_attr(std::string_view attr) const;
};

class OpRegistry {
 public:
  // The registry of built-in ops, registered on first use.
  static const OpRegistry& instance();

  void add(OpDef def);
  const OpDef* find(std::string_view name) const;
  const OpDef& get(std::string_view name) const;  // throws GraphcError if unknown
  std::vector<const OpDef*> all() const;          // sorted by name

 private:
  std::map<std::string, OpDef, std::less<>> defs_;
};

// Registration, one function per family of ops (ir/ops/*.cpp).
void register_elementwise_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_reduction_ops(OpRegistry& r);
void register_linalg_ops(OpRegistry& r);
void register_generator_ops(OpRegistry& r);
void register_control_flow_ops(OpRegistry& r);
void register_global_ops(OpRegistry& r);
void register_fused_ops(OpRegistry& r);
void register_host_io_ops(OpRegistry& r);

// Checks an op against its definition's signature: operand count, attribute
// names and kinds, required attributes, region count. Returns what is wrong,
// or an empty string. Used by both the builder and the verifier.
std::string check_signature(const Op& op);

// Small helpers shared by the op definitions' type inference.
Error infer_error(std::string message);
// Normalises a possibly negative axis; nullopt if out of range.
std::optional<int> normalize_axis(int64_t axis, int rank);
// Numpy-style broadcast of two shapes (right-aligned; 1 stretches; equal
// symbols match). nullopt if incompatible.
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace graphc
