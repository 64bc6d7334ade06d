#include "tensor/shape.hpp"

#include <fmt/format.h>

#include "tensor/error.hpp"

namespace mttt {

void check_rank(int rank, const char* op) {
  check(rank <= kMaxRank, op, "rank {} exceeds the maximum rank {}", rank, kMaxRank);
}

Dims::Dims(std::initializer_list<std::int64_t> values) {
  check_rank(static_cast<int>(values.size()), "shape");
  for (auto v : values) values_[rank_++] = v;
}

Dims::Dims(const std::vector<std::int64_t>& values) {
  check_rank(static_cast<int>(values.size()), "shape");
  for (auto v : values) values_[rank_++] = v;
}

Dims Dims::filled(int rank, std::int64_t value) {
  check_rank(rank, "shape");
  Dims d;
  for (int i = 0; i < rank; ++i) d.values_[i] = value;
  d.rank_ = rank;
  return d;
}

void Dims::push_back(std::int64_t value) {
  check_rank(rank_ + 1, "shape");
  values_[rank_++] = value;
}

void Dims::insert(int position, std::int64_t value) {
  check_rank(rank_ + 1, "shape");
  for (int i = rank_; i > position; --i) values_[i] = values_[i - 1];
  values_[position] = value;
  ++rank_;
}

void Dims::erase(int position) {
  for (int i = position; i + 1 < rank_; ++i) values_[i] = values_[i + 1];
  --rank_;
}

bool operator==(const Dims& a, const Dims& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i)
    if (a.values_[i] != b.values_[i]) return false;
  return true;
}

std::int64_t numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides = Dims::filled(shape.size(), 1);
  for (int i = shape.size() - 2; i >= 0; --i) strides[i] = strides[i + 1] * std::max<std::int64_t>(shape[i + 1], 1);
  return strides;
}

std::string to_string(const Dims& dims) {
  if (dims.size() == 1) return fmt::format("({},)", dims[0]);
  return fmt::format("({})", fmt::join(dims.begin(), dims.end(), ", "));
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  int rank = std::max(a.size(), b.size());
  Shape out = Dims::filled(rank, 1);
  for (int i = 0; i < rank; ++i) {
    std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(op, "shapes {} and {} do not broadcast: axis {} has sizes {} and {}", to_string(a), to_string(b), i, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& target) {
  Strides out = Dims::filled(target.size(), 0);
  int lead = target.size() - shape.size();
  for (int i = 0; i < shape.size(); ++i)
    out[lead + i] = shape[i] == 1 && target[lead + i] != 1 ? 0 : strides[i];
  return out;
}

int normalize_axis(std::int64_t axis, int rank, const char* op) {
  std::int64_t a = axis < 0 ? axis + rank : axis;
  check(a >= 0 && a < std::max(rank, 1), op, "axis {} is out of range for a tensor of rank {}", axis, rank);
  return static_cast<int>(a);
}

}  // namespace mttt
