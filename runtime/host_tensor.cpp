#include "runtime/host_tensor.h"

#include <fmt/format.h>

#include <cmath>

#include "ir/attribute.h"
#include "ir/status.h"

namespace graphc {

int64_t product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

int64_t saturating_to_int(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return static_cast<int64_t>(std::trunc(v));
}

int64_t HostTensor::get_int(int64_t i) const { return is_float() ? saturating_to_int(get(i)) : i_[i]; }

int64_t wrap_int(int64_t v, DType t) {
  if (t == DType::i32) return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
  if (t == DType::boolean) return v != 0;
  return v;
}

HostTensor::HostTensor(DType dtype, std::vector<int64_t> shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(product(shape_)) {
  for (int64_t d : shape_)
    if (d < 0) throw GraphcError("negative dimension in shape");
  if (dtype_ == DType::f64) d_.assign(numel_, 0.0);
  else if (is_float()) f_.assign(numel_, 0.0f);
  else i_.assign(numel_, 0);
}

HostTensor HostTensor::from_floats(DType dtype, std::vector<int64_t> shape, std::vector<float> values) {
  HostTensor t(dtype, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw GraphcError(fmt::format("{} values given for a tensor of {} elements", values.size(), t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, values[i]);
  return t;
}

HostTensor HostTensor::from_ints(DType dtype, std::vector<int64_t> shape, std::vector<int64_t> values) {
  HostTensor t(dtype, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw GraphcError(fmt::format("{} values given for a tensor of {} elements", values.size(), t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) t.set_int(i, values[i]);
  return t;
}

HostTensor HostTensor::scalar(DType dtype, double value) {
  HostTensor t(dtype, {});
  t.set(0, value);
  return t;
}

void HostTensor::set(int64_t i, double v) {
  if (dtype_ == DType::f64) d_[i] = v;
  else if (is_float()) f_[i] = round_to_dtype(static_cast<float>(v), dtype_);
  else if (dtype_ == DType::boolean) i_[i] = v != 0.0;
  else i_[i] = wrap_int(saturating_to_int(v), dtype_);
}

void HostTensor::set_int(int64_t i, int64_t v) {
  if (dtype_ == DType::f64) d_[i] = static_cast<double>(v);
  else if (is_float()) f_[i] = round_to_dtype(static_cast<float>(v), dtype_);
  else i_[i] = wrap_int(v, dtype_);
}

HostTensor HostTensor::reshaped(std::vector<int64_t> shape) const {
  if (product(shape) != numel_) throw GraphcError("reshape changes the element count");
  HostTensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

std::string HostTensor::str(int64_t max_elements) const {
  std::string out = type().str() + " {";
  for (int64_t i = 0; i < numel_ && i < max_elements; ++i) {
    if (i) out += ", ";
    out += is_float() ? fmt::format("{:.6g}", get(i)) : std::to_string(i_[i]);
  }
  if (numel_ > max_elements) out += ", ...";
  return out + "}";
}

}  // namespace graphc
