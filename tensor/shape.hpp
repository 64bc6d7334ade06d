// Shapes and strides: small fixed-capacity arrays of int64 (no heap), and the rules that
// relate them: element counts, contiguous strides, NumPy broadcasting, axis normalisation.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace mttt {

inline constexpr int kMaxRank = 8;

class Dims {
 public:
  Dims() = default;
  Dims(std::initializer_list<std::int64_t> values);
  explicit Dims(const std::vector<std::int64_t>& values);
  static Dims filled(int rank, std::int64_t value);

  int size() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  std::int64_t& operator[](int i) { return values_[i]; }
  std::int64_t operator[](int i) const { return values_[i]; }
  std::int64_t back() const { return values_[rank_ - 1]; }
  const std::int64_t* begin() const { return values_.data(); }
  const std::int64_t* end() const { return values_.data() + rank_; }
  std::int64_t* begin() { return values_.data(); }
  std::int64_t* end() { return values_.data() + rank_; }

  void push_back(std::int64_t value);
  void insert(int position, std::int64_t value);
  void erase(int position);
  std::vector<std::int64_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const Dims& a, const Dims& b);
  friend bool operator!=(const Dims& a, const Dims& b) { return !(a == b); }

 private:
  std::array<std::int64_t, kMaxRank> values_{};
  int rank_ = 0;
};

using Shape = Dims;
using Strides = Dims;

std::int64_t numel(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
// "(3, 4)"; a scalar is "()".
std::string to_string(const Dims& dims);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes if they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Strides that read `shape`/`strides` as if broadcast to `target` (stride 0 on broadcast axes).
Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& target);
// Maps a possibly negative axis into [0, rank); throws naming `op` when out of range.
int normalize_axis(std::int64_t axis, int rank, const char* op);
void check_rank(int rank, const char* op);

}  // namespace mttt
