// matmul: values against a naive triple loop (batch broadcasting, 1-D operands, transposed and
// sliced operands, float32, sizes that take the BLAS and panel paths), gradcheck orders 1-3.
#include "helpers.hpp"

using namespace mttt;
using namespace test;

namespace {

using V = const std::vector<Tensor>&;

// NumPy matmul on host values: 1-D operands get an axis inserted and removed again.
Vec ref_matmul(const Vec& a, Index as, const Vec& b, Index bs, Index* out_shape) {
  bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  std::int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  Index abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
  Index batch = broadcast_shape(abatch, bbatch);
  Index os = batch;
  os.push_back(m);
  os.push_back(n);
  Vec out(count(os), 0);
  for (std::int64_t bi = 0; bi < count(batch); ++bi) {
    Index at = unravel(bi, batch);
    std::int64_t ao = broadcast_source(at, abatch) * m * k, bo = broadcast_source(at, bbatch) * k * n;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t p = 0; p < k; ++p) s += a[ao + i * k + p] * b[bo + p * n + j];
        out[(bi * m + i) * n + j] = s;
      }
  }
  Index shown = batch;
  if (!a_vec) shown.push_back(m);
  if (!b_vec) shown.push_back(n);
  *out_shape = shown;
  return out;
}

void check_matmul(const Tensor& a, const Tensor& b, double tol = 1e-12) {
  Index os;
  Vec expected = ref_matmul(a.to_vector<double>(), idx(a.shape()), b.to_vector<double>(), idx(b.shape()), &os);
  Tensor y = matmul(a, b);
  check_shape(y, os);
  CHECK(y.dtype() == a.dtype());
  check_values(y, expected, tol);
}

}  // namespace

TEST_CASE("matmul: shapes and values, batch broadcasting and 1-D operands") {
  const std::vector<std::pair<Index, Index>> shapes = {
      {{3, 4}, {4, 5}},       {{1, 1}, {1, 1}},       {{2, 3, 4}, {2, 4, 5}}, {{2, 3, 4}, {4, 5}},
      {{3, 4}, {2, 4, 5}},    {{2, 1, 3, 4}, {3, 4, 2}}, {{4}, {4, 5}},       {{3, 4}, {4}},
      {{4}, {4}},             {{2, 3, 4}, {4}},       {{4}, {2, 4, 3}},       {{1, 3, 4}, {5, 4, 2}},
  };
  std::uint64_t seed = 400;
  for (const auto& [sa, sb] : shapes) {
    INFO("shapes rank " << sa.size() << " @ rank " << sb.size() << " seed " << seed);
    Tensor a = rnd(shp(sa), -1, 1, ++seed), b = rnd(shp(sb), -1, 1, ++seed);
    check_matmul(a, b);
    check_matmul(cast(a, DType::float32), cast(b, DType::float32), 1e-5);
  }
  check_shape(matmul(rnd({4}), rnd({4})), {});
}

TEST_CASE("matmul: transposed, sliced and expanded operands") {
  Tensor a = rnd({5, 3}, -1, 1, 410), b = rnd({6, 5}, -1, 1, 411);
  check_matmul(transpose(a), transpose(b));               // (3, 5) @ (5, 6), both transposed
  check_matmul(slice(transpose(b), 1, 0, 6, 2), slice(b, 0, 1, 4));  // strided rows / columns
  Tensor bt = rnd({2, 4, 3}, -1, 1, 412);
  check_matmul(permute(bt, {1, 0, 2}), rnd({3, 2}, -1, 1, 413));   // batch stride not outermost
  check_matmul(expand(rnd({1, 3, 4}, -1, 1, 414), {5, 3, 4}), rnd({5, 4, 2}, -1, 1, 415));
  check_matmul(select(rnd({3, 4}, -1, 1, 416), 1, 2), rnd({3, 5}, -1, 1, 417));  // 1-D, stride 4
  check_matmul(rnd({5, 3}, -1, 1, 416), select(rnd({3, 4}, -1, 1, 417), 1, 1));
  Tensor a32 = cast(rnd({7, 9}, -1, 1, 418), DType::float32);
  check_matmul(transpose(a32), cast(rnd({7, 5}, -1, 1, 419), DType::float32), 1e-5);
}

TEST_CASE("matmul: large products (BLAS, panels) and batches of small ones") {
  Tensor a = rnd({130, 70}, -1, 1, 420), b = rnd({70, 150}, -1, 1, 421);
  check_matmul(a, b, 1e-11);
  check_matmul(transpose(b), transpose(a), 1e-11);
  check_matmul(cast(a, DType::float32), cast(b, DType::float32), 2e-5);
  check_matmul(rnd({64, 4, 5}, -1, 1, 422), rnd({64, 5, 3}, -1, 1, 423));
  // Deterministic mode splits the work independently of the thread count: same values.
  Tensor y = matmul(a, b);
  set_deterministic(true);
  Tensor yd = matmul(a, b);
  set_deterministic(false);
  check_same(yd, y, 1e-13);
}

TEST_CASE("matmul: int64 operands and mixed dtypes are refused") {
  CHECK_THROWS_WITH(matmul(i64({1, 2}, {1, 2}), i64({1, 2}, {2, 1})), Catch::Contains("[matmul]"));
  CHECK_THROWS_WITH(matmul(rnd({2, 2}), cast(rnd({2, 2}), DType::float32)), Catch::Contains("[matmul]"));
}

TEST_CASE("matmul: gradcheck orders 1, 2 and 3") {
  Tensor a = rnd({3, 4}, -1, 1, 430), b = rnd({4, 2}, -1, 1, 431);
  gradcheck123([](V v) { return matmul(v[0], v[1]); }, {a, b});
  // Broadcast batch axes and transposed views.
  gradcheck123([](V v) { return matmul(v[0], transpose(v[1])); }, {rnd({2, 1, 2, 3}, -1, 1, 432), rnd({3, 2, 3}, -1, 1, 433)});
  // matmul of a nonlinear function of itself: non-zero third derivative through the product.
  gradcheck123([](V v) { return matmul(v[0], tanh(transpose(v[0]))); }, {rnd({2, 3}, -1, 1, 434)});
}

TEST_CASE("matmul: gradcheck orders 1 and 2 for 1-D operands and strided inputs") {
  gradcheck12([](V v) { return matmul(v[0], v[1]); }, {rnd({4}, -1, 1, 440), rnd({2, 4, 3}, -1, 1, 441)});
  gradcheck12([](V v) { return matmul(v[0], v[1]); }, {rnd({2, 3, 4}, -1, 1, 442), rnd({4}, -1, 1, 443)});
  gradcheck12([](V v) { return matmul(v[0], v[1]); }, {rnd({5}, -1, 1, 444), rnd({5}, -1, 1, 445)});
  gradcheck12([](V v) { return matmul(slice(v[0], 1, 0, 6, 2), expand(v[1], {2, 3, 2})); },
              {rnd({4, 6}, -1, 1, 446), rnd({3, 2}, -1, 1, 447)});
  gradcheck12([](V v) { return matmul(select(transpose(v[0]), 0, 1), v[1]); },
              {rnd({3, 2}, -1, 1, 448), rnd({3, 4}, -1, 1, 449)});
}

TEST_CASE("matmul: known gradients") {
  Tensor a = f64({1, 2, 3, 4}, {2, 2}).requires_grad_();
  Tensor b = f64({5, 6, 7, 8}, {2, 2}).requires_grad_();
  auto g = grad({sum(matmul(a, b))}, {a, b});
  check_values(g[0], {11, 15, 11, 15});  // ones @ b^T
  check_values(g[1], {4, 4, 6, 6});      // a^T @ ones
  // Broadcast batch: the gradient of the shared operand sums over the batch.
  Tensor s = f64({1, 0, 0, 1}, {2, 2}).requires_grad_();
  Tensor batch = ones({3, 2, 2}, {DType::float64});
  Tensor gs = grad(sum(matmul(batch, s)), s);
  check_shape(gs, {2, 2});
  check_values(gs, {6, 6, 6, 6});
}
