// A tensor in host memory, used by the reference interpreter, by tests and
// to pass arguments and results across the tool boundary. Floating-point
// tensors keep their elements as float, rounded to the tensor's precision
// (bf16 and f16 values are exactly representable as float); integer and bool
// tensors keep int64 elements, wrapped to the dtype's range.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ir/type.h"

namespace graphc {

class HostTensor {
 public:
  HostTensor() = default;
  HostTensor(DType dtype, std::vector<int64_t> shape);  // zero-filled

  static HostTensor from_floats(DType dtype, std::vector<int64_t> shape, std::vector<float> values);
  static HostTensor from_ints(DType dtype, std::vector<int64_t> shape, std::vector<int64_t> values);
  static HostTensor scalar(DType dtype, double value);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_.at(i); }
  int64_t numel() const { return numel_; }
  bool is_float() const { return is_floating(dtype_); }
  TensorType type() const { return TensorType(dtype_, from_static(shape_)); }

  // Element access by flat row-major index, as double; set() rounds floats to
  // the dtype and wraps integers (i32 two's complement, bool to 0/1).
  double get(int64_t i) const {
    if (dtype_ == DType::f64) return d_[i];
    return is_float() ? f_[i] : static_cast<double>(i_[i]);
  }
  int64_t get_int(int64_t i) const;
  void set(int64_t i, double v);
  void set_int(int64_t i, int64_t v);

  // Raw storage: float for f32/bf16/f16, double for f64, int64 otherwise.
  std::vector<float>& floats() { return f_; }
  const std::vector<float>& floats() const { return f_; }
  std::vector<int64_t>& ints() { return i_; }
  const std::vector<int64_t>& ints() const { return i_; }
  std::vector<double>& doubles() { return d_; }
  const std::vector<double>& doubles() const { return d_; }
  // True for the dtypes kept in floats().
  bool has_float_storage() const { return is_float() && dtype_ != DType::f64; }

  // Same elements, new shape (same element count).
  HostTensor reshaped(std::vector<int64_t> shape) const;

  // Short text for messages and debugging: "f32[2,3] {1, 2, 3, ...}".
  std::string str(int64_t max_elements = 8) const;

 private:
  DType dtype_ = DType::f32;
  std::vector<int64_t> shape_;
  int64_t numel_ = 1;
  std::vector<float> f_;
  std::vector<int64_t> i_;
  std::vector<double> d_;
};

// Row-major strides of a shape, in elements.
std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape);
int64_t product(const std::vector<int64_t>& dims);
// Float to integer: truncation toward zero, saturating at the int64 range,
// NaN to 0 (a plain cast would be undefined behaviour out of range).
int64_t saturating_to_int(double v);
// Wraps an integer to the range of an integer dtype (bool: 0 or 1).
int64_t wrap_int(int64_t v, DType t);

}  // namespace graphc
