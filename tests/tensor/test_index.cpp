// Joining, splitting and indexing: concat, stack, split, chunk, index_select, gather, one_hot.
// Values against index arithmetic (negative axes, strided inputs, int64), views where promised,
// gradcheck orders 1-2, and repeated indices accumulating their gradients.
#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {
using V = const std::vector<Tensor>&;
using I64 = std::vector<std::int64_t>;
Tensor ramp(const Index& shape, double start = 0) {
  return reshape(arange(start, start + static_cast<double>(count(shape)), 1, {DType::float64}), shp(shape));
}
}  // namespace

TEST_CASE("concat: values along each axis, negative axes, strided and int64 inputs") {
  Tensor a = ramp({2, 3}), b = ramp({2, 2}, 100), c = ramp({1, 3}, 200);
  check_values(concat({a, b}, 1), {0, 1, 2, 100, 101, 3, 4, 5, 102, 103});
  check_shape(concat({a, b}, -1), {2, 5});
  check_values(concat({a, c}, 0), {0, 1, 2, 3, 4, 5, 200, 201, 202});
  check_values(concat({a}, 0), a.to_vector<double>());
  // Strided inputs: a transposed view and a stepped slice.
  Tensor t = transpose(ramp({3, 2}, 10));  // (2, 3): 10 12 14 / 11 13 15
  check_values(concat({t, slice(ramp({2, 6}, 50), 1, 0, 6, 2)}, 1), {10, 12, 14, 50, 52, 54, 11, 13, 15, 56, 58, 60});
  // Rank 3, middle axis, three pieces.
  Tensor x = ramp({2, 1, 2}), y = ramp({2, 2, 2}, 10), z = ramp({2, 1, 2}, 20);
  check_values(concat({x, y, z}, 1), {0, 1, 10, 11, 12, 13, 20, 21, 2, 3, 14, 15, 16, 17, 22, 23});
  // Empty pieces are fine.
  check_values(concat({a, ramp({2, 0})}, 1), a.to_vector<double>());
  CHECK(concat({i64({1, 2}, {2}), i64({3}, {1})}, 0).to_vector<std::int64_t>() == I64{1, 2, 3});
  CHECK(concat({cast(a, DType::float32), cast(b, DType::float32)}, 1).dtype() == DType::float32);
}

TEST_CASE("stack: a new axis at any position") {
  Tensor a = ramp({2, 3}), b = ramp({2, 3}, 10);
  Tensor s0 = stack({a, b}, 0);
  check_shape(s0, {2, 2, 3});
  check_values(s0, {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15});
  Tensor s1 = stack({a, b}, 1);
  check_shape(s1, {2, 2, 3});
  check_values(s1, {0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15});
  Tensor s2 = stack({a, b}, -1);
  check_shape(s2, {2, 3, 2});
  check_values(s2, {0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15});
  check_values(stack({transpose(a), transpose(b)}, 0), {0, 3, 1, 4, 2, 5, 10, 13, 11, 14, 12, 15});
  check_shape(stack({f64({1}, {}), f64({2}, {})}, 0), {2});
  CHECK(stack({i64({1, 2}, {2}), i64({3, 4}, {2})}, 1).to_vector<std::int64_t>() == I64{1, 3, 2, 4});
}

TEST_CASE("split and chunk: views with the right sizes and values") {
  Tensor x = ramp({4, 6});
  auto parts = split(x, {1, 3, 2}, 1);
  REQUIRE(parts.size() == 3);
  check_shape(parts[0], {4, 1});
  check_shape(parts[1], {4, 3});
  check_shape(parts[2], {4, 2});
  CHECK(parts[1].storage() == x.storage());
  check_values(parts[0], {0, 6, 12, 18});
  check_values(parts[2], {4, 5, 10, 11, 16, 17, 22, 23});
  auto rows = split(x, {3, 1}, -2);
  check_values(rows[1], {18, 19, 20, 21, 22, 23});
  auto with_empty = split(x, {0, 4}, 0);
  check_shape(with_empty[0], {0, 6});
  auto ch = chunk(x, 3, 1);
  REQUIRE(ch.size() == 3);
  check_values(ch[1], {2, 3, 8, 9, 14, 15, 20, 21});
  auto ct = chunk(transpose(x), 2, 0);  // (6, 4) -> two (3, 4)
  check_values(ct[1], {3, 9, 15, 21, 4, 10, 16, 22, 5, 11, 17, 23});
  // Pieces joined again give the input back.
  check_same(concat(split(x, {2, 4}, 1), 1), x, 0);
}

TEST_CASE("index_select: any axis, repeats, strided input, int64 values") {
  Tensor x = ramp({3, 4});
  check_values(index_select(x, 0, i64({2, 0, 2}, {3})), {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});
  check_values(index_select(x, 1, i64({3, 1}, {2})), {3, 1, 7, 5, 11, 9});
  check_values(index_select(x, -1, i64({0}, {1})), {0, 4, 8});
  check_shape(index_select(x, 0, i64({}, {0})), {0, 4});
  check_values(index_select(transpose(x), 0, i64({1, 3}, {2})), {1, 5, 9, 3, 7, 11});
  // A strided index tensor.
  Tensor idx = slice(i64({2, 9, 0, 9, 1, 9}, {6}), 0, 0, 6, 2);
  check_values(index_select(x, 0, idx), {8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(index_select(i64({5, 6, 7}, {3}), 0, i64({2, 2, 0}, {3})).to_vector<std::int64_t>() == I64{7, 7, 5});
}

TEST_CASE("gather: every axis against the definition, negative axes, strided inputs") {
  Tensor x = ramp({3, 4});
  // axis 1: out[i][j] = x[i][index[i][j]]
  Tensor ind1 = i64({3, 0, 1, 1, 2, 0}, {3, 2});
  check_values(gather(x, 1, ind1), {3, 0, 5, 5, 10, 8});
  check_values(gather(x, -1, ind1), {3, 0, 5, 5, 10, 8});
  // axis 0: out[i][j] = x[index[i][j]][j]
  Tensor ind0 = i64({2, 0, 1, 1, 0, 2, 2, 0}, {2, 4});
  check_values(gather(x, 0, ind0), {8, 1, 6, 7, 0, 9, 10, 3});
  // Rank 3 against the definition, strided input.
  Tensor x3 = permute(rnd({4, 2, 3}, -1, 1, 600), {1, 2, 0});  // (2, 3, 4)
  Vec xv = x3.to_vector<double>();
  Tensor ind = i64({0, 3, 2, 1, 1, 1, 0, 0, 3, 2, 1, 0}, {2, 3, 2});
  Tensor g = gather(x3, 2, ind);
  check_shape(g, {2, 3, 2});
  auto iv = ind.to_vector<std::int64_t>();
  Vec expected(12);
  for (std::int64_t f = 0; f < 12; ++f) {
    Index at = unravel(f, {2, 3, 2});
    expected[f] = xv[ravel({at[0], at[1], iv[f]}, {2, 3, 4})];
  }
  check_values(g, expected);
  // A single column per row.
  check_values(gather(x, 1, i64({1, 2, 0}, {3, 1})), {1, 6, 8});
  CHECK(gather(i64({1, 2, 3, 4}, {2, 2}), 1, i64({1, 1, 0, 0}, {2, 2})).to_vector<std::int64_t>() == I64{2, 2, 3, 3});
}

TEST_CASE("gather and its backward move whole rows when the index is broadcast over the trailing axes") {
  // The MTTT layer's SGD steps pick tokens by a permutation per head: the index is (1, H, m, 1)
  // expanded over the batch and the features. The row kernel must agree with the per-element
  // one (the same index made contiguous), values and gradients, with repeated indices and an
  // input that is itself broadcast.
  Generator gen(51);
  Tensor x = uniform({2, 3, 7, 5}, -1, 1, {DType::float64}, &gen).requires_grad_();
  Tensor picks = cast(uniform({1, 3, 4, 1}, 0, 7, {DType::float64}, &gen), DType::int64);
  Tensor broadcast_index = expand(picks, {2, 3, 4, 5});
  Tensor dense_index = contiguous(broadcast_index);
  Tensor weights = uniform({2, 3, 4, 5}, -1, 1, {DType::float64}, &gen);
  Tensor fast = gather(x, 2, broadcast_index), slow = gather(x, 2, dense_index);
  CHECK(fast.to_vector<double>() == slow.to_vector<double>());
  CHECK(grad(sum(fast * weights), x).to_vector<double>() == grad(sum(slow * weights), x).to_vector<double>());
  // A broadcast input (stride 0 over heads), as the reconstruction targets y are.
  Tensor y = uniform({2, 1, 7, 5}, -1, 1, {DType::float64}, &gen);
  Tensor y_wide = expand(y, {2, 3, 7, 5});
  CHECK(gather(y_wide, 2, broadcast_index).to_vector<double>() ==
        gather(contiguous(y_wide), 2, dense_index).to_vector<double>());
  gradcheck12([&](V v) { return gather(v[0], 2, broadcast_index) * weights; }, {x.detach()});
}

TEST_CASE("one_hot: rows of the identity in the requested dtype, any label shape") {
  Tensor oh = one_hot(i64({2, 0, 1}, {3}), 4);
  CHECK(oh.dtype() == DType::float32);
  check_shape(oh, {3, 4});
  check_values(oh, {0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0});
  Tensor oh2 = one_hot(i64({1, 0, 0, 1}, {2, 2}), 2, DType::float64);
  CHECK(oh2.dtype() == DType::float64);
  check_shape(oh2, {2, 2, 2});
  check_values(oh2, {0, 1, 1, 0, 1, 0, 0, 1});
  Tensor ohi = one_hot(transpose(i64({0, 1, 2, 2, 1, 0}, {2, 3})), 3, DType::int64);
  CHECK(ohi.to_vector<std::int64_t>() == I64{1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0});
  check_shape(one_hot(i64({0}, {}), 3), {3});
}

TEST_CASE("index ops: gradcheck orders 1 and 2") {
  Tensor a = rnd({2, 3}, -1, 1, 610), b = rnd({2, 2}, -1, 1, 611), c = rnd({3, 2}, -1, 1, 612);
  gradcheck12([](V v) { return square(concat({v[0], v[1]}, 1)); }, {a, b});
  gradcheck12([](V v) { return square(concat({v[0], transpose(v[1]), v[0] * v[0]}, -1)); }, {a, c});
  gradcheck12([](V v) { return square(stack({v[0], tanh(v[1])}, 1)); }, {a, a * 0.5});
  gradcheck12([](V v) { return square(stack({transpose(v[0]), v[1]}, -1)); }, {a, c});
  gradcheck12(
      [](V v) {
        auto p = split(v[0], {1, 2}, 1);
        return square(p[0]) * p[1];
      },
      {a});
  gradcheck12(
      [](V v) {
        auto p = chunk(transpose(v[0]), 2, 1);
        return square(p[1]) - p[0];
      },
      {rnd({4, 3}, -1, 1, 613)});
  Tensor rep = i64({2, 0, 2, 1}, {4});
  gradcheck12([rep](V v) { return square(index_select(v[0], 1, rep)); }, {a});
  gradcheck12([rep](V v) { return square(index_select(transpose(v[0]), 0, rep)); }, {a});
  Tensor gi = i64({0, 0, 2, 1, 1, 1}, {2, 3});
  gradcheck12([gi](V v) { return square(gather(v[0], 1, gi)); }, {rnd({2, 4}, -1, 1, 614)});
  gradcheck12([gi](V v) { return square(gather(transpose(v[0]), 1, gi)); }, {rnd({4, 2}, -1, 1, 615)});
  Tensor g0 = i64({1, 0, 1}, {1, 3});
  gradcheck12([g0](V v) { return square(gather(v[0], 0, g0)) * v[1]; }, {rnd({2, 3}, -1, 1, 616), rnd({3}, -1, 1, 617)});
}

TEST_CASE("index ops: repeated indices accumulate gradients; split pieces route theirs") {
  Tensor x = ramp({3}).requires_grad_();
  check_values(grad(sum(index_select(x, 0, i64({2, 2, 0, 2}, {4}))), x), {1, 0, 3});
  Tensor y = ramp({2, 3}).requires_grad_();
  check_values(grad(sum(gather(y, 1, i64({1, 1, 1, 0, 2, 2}, {2, 3}))), y), {0, 3, 0, 1, 0, 2});
  auto parts = split(y, {2, 1}, 1);
  check_values(grad(sum(parts[1] * 5.0), y), {0, 0, 5, 0, 0, 5});
  Tensor s = grad(sum(stack({y, y * 2.0}, 0)), y);
  check_values(s, Vec(6, 3.0));
  // one_hot of labels carries no gradient but multiplies into one.
  Tensor logits = rnd({2, 3}, -1, 1, 620).requires_grad_();
  Tensor oh = one_hot(i64({2, 0}, {2}), 3, DType::float64);
  check_values(grad(sum(logits * oh), logits), {0, 0, 1, 1, 0, 0});
}
