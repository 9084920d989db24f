#include "passes/gradient_rules.h"

namespace graphc {

Val GradientContext::scalar(double v, Val like) const { return b.scalar(v, like.type().dtype); }

Val GradientContext::zeros(Val like) const { return b.constant(0.0, like.type()); }

const GradientRules& GradientRules::instance() {
  static const GradientRules rules = [] {
    GradientRules r;
    register_elementwise_gradients(r);
    register_shape_gradients(r);
    register_reduction_gradients(r);
    register_linalg_gradients(r);
    return r;
  }();
  return rules;
}

void GradientRules::add(std::string op_name, GradientRule rule) { rules_[std::move(op_name)] = std::move(rule); }

const GradientRule* GradientRules::find(std::string_view op_name) const {
  auto it = rules_.find(op_name);
  return it == rules_.end() ? nullptr : &it->second;
}

std::vector<std::string> GradientRules::names() const {
  std::vector<std::string> out;
  for (const auto& [name, rule] : rules_) out.push_back(name);
  return out;
}

Val unbroadcast(Builder& b, Val g, const Shape& target) {
  const Shape& s = g.shape();
  if (s == target) return g;
  const int extra = static_cast<int>(s.size()) - static_cast<int>(target.size());
  std::vector<int64_t> axes;
  for (int d = 0; d < static_cast<int>(s.size()); ++d) {
    if (d < extra) {
      axes.push_back(d);
      continue;
    }
    const Dim& t = target[d - extra];
    if (t.is_static() && t.value == 1 && !(s[d].is_static() && s[d].value == 1)) axes.push_back(d);
  }
  Val summed = axes.empty() ? g : b.sum(g, axes, /*keepdims=*/true);
  return b.reshape(summed, target);
}

}  // namespace graphc
