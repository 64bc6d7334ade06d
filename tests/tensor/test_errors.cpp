// Bad input: every op checks shapes, dtypes, axes, indices and devices, and its message names
// the op, the shapes involved and what was expected.
#include "helpers.hpp"

using namespace mttt;
using namespace test;
using Catch::Contains;

namespace {
Tensor z64(const Index& shape) { return zeros(Shape(shape), {DType::float64}); }
Tensor z32(const Index& shape) { return zeros(Shape(shape), {DType::float32}); }
Tensor zi(const Index& shape) { return zeros(Shape(shape), {DType::int64}); }
// A second CPU "device": the same backend, but a different Device value, so that device checks
// can be exercised in a CPU-only build.
constexpr Device kOtherCPU{DeviceType::cpu, 1};
}  // namespace

TEST_CASE("errors are mttt::Error and start with the op's name") {
  REQUIRE_THROWS_AS(matmul(z64({3, 4}), z64({5, 6})), Error);
  REQUIRE_THROWS_AS(reshape(z64({2, 3}), {4}), std::runtime_error);
}

TEST_CASE("matmul: inner dimensions, batch broadcasting, dtypes, ranks, devices") {
  REQUIRE_THROWS_WITH(matmul(z64({3, 4}), z64({5, 6})), "[matmul] (3, 4) @ (5, 6): inner dimensions 4 and 5 differ");
  REQUIRE_THROWS_WITH(matmul(z64({2, 3, 4}), z64({5, 4, 2})),
                      Contains("[matmul]") && Contains("(2,)") && Contains("(5,)") && Contains("broadcast"));
  REQUIRE_THROWS_WITH(matmul(z64({3, 4}), z32({4, 2})),
                      Contains("[matmul]") && Contains("(3, 4)") && Contains("(4, 2)") && Contains("float32"));
  REQUIRE_THROWS_WITH(matmul(zi({3, 4}), zi({4, 2})), Contains("[matmul]") && Contains("int64"));
  REQUIRE_THROWS_WITH(matmul(z64({}), z64({4, 2})), Contains("[matmul]") && Contains("()") && Contains("(4, 2)"));
  // A vector operand: the message shows the shapes as given.
  REQUIRE_THROWS_WITH(matmul(z64({3}), z64({4})), Contains("[matmul]") && Contains("(3,) @ (4,)") &&
                                                      Contains("inner dimensions 3 and 4 differ"));
  REQUIRE_THROWS_WITH(matmul(z64({2, 3}), z64({4})), Contains("[matmul]") && Contains("(2, 3) @ (4,)") &&
                                                         Contains("inner dimensions 3 and 4 differ"));
  REQUIRE_THROWS_WITH(matmul(z64({3}), z64({2, 5})), Contains("[matmul]") && Contains("(3,) @ (2, 5)") &&
                                                         Contains("inner dimensions 3 and 2 differ"));
  REQUIRE_THROWS_WITH(matmul(z64({3, 4}), zeros({4, 2}, {DType::float64, kOtherCPU})),
                      Contains("[matmul]") && Contains("operands on"));
}

TEST_CASE("elementwise: broadcasting, dtypes, floating-only ops, devices") {
  REQUIRE_THROWS_WITH(add(z64({2, 3}), z64({4})), "[add] shapes (2, 3) and (4,) do not broadcast: axis 1 has sizes 3 and 4");
  REQUIRE_THROWS_WITH(mul(z64({3, 1, 4}), z64({2, 5})), Contains("[mul]") && Contains("(3, 1, 4)") && Contains("(2, 5)"));
  REQUIRE_THROWS_WITH(sub(z64({2}), z32({2})),
                      Contains("[sub]") && Contains("float64") && Contains("float32") && Contains("(2,)"));
  REQUIRE_THROWS_WITH(exp(zi({2})), Contains("[exp]") && Contains("int64"));
  REQUIRE_THROWS_WITH(div(zi({2}), zi({2})), Contains("[div]") && Contains("int64"));
  REQUIRE_THROWS_WITH(where(z64({2, 3}), z64({3}), z64({2})), Contains("[where]") && Contains("(2, 3)") && Contains("(2,)"));
  REQUIRE_THROWS_WITH(clamp(z64({2}), 1.0, -1.0), Contains("[clamp]") && Contains("low"));
  // A scalar takes the tensor's dtype: int64 takes integral scalars only, never truncates.
  REQUIRE_THROWS_WITH(zi({2, 3}) * 0.5, Contains("[mul]") && Contains("(2, 3)") && Contains("0.5"));
  REQUIRE_THROWS_WITH(1.5 + zi({2}), Contains("[add]") && Contains("(2,)") && Contains("1.5"));
  REQUIRE_THROWS_WITH(zi({2}) - 0.25, Contains("[sub]") && Contains("0.25"));
  CHECK((i64({3, -4}, {2}) * 2.0 - 1.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{5, -9});
  REQUIRE_THROWS_WITH(add(z64({2}), zeros({2}, {DType::float64, kOtherCPU})), Contains("[add]") && Contains("tensors on"));
  // A fused expression checks its operands the same way.
  REQUIRE_THROWS_WITH(fuse([](Expr a, Expr b) { return a * b + a; }, z64({2, 3}), z64({3, 2})),
                      Contains("(2, 3)") && Contains("(3, 2)") && Contains("do not broadcast"));
  REQUIRE_THROWS_WITH(fuse([](Expr a, Expr b) { return exp(a) + b; }, zi({2}), zi({2})), Contains("int64"));
}

TEST_CASE("shape ops: sizes, axes, steps, indices") {
  REQUIRE_THROWS_WITH(reshape(z64({2, 3}), {4, 2}), "[reshape] (2, 3) (6 elements) -> (4, 2) (8 elements)");
  REQUIRE_THROWS_WITH(reshape(z64({2, 3}), {-1, -1}), Contains("[reshape]") && Contains("only one dimension can be -1"));
  REQUIRE_THROWS_WITH(reshape(z64({2, 3}), {4, -1}), Contains("[reshape]") && Contains("(2, 3)") && Contains("(4, -1)"));
  REQUIRE_THROWS_WITH(reshape(z64({2, 3}), {-2, 3}), Contains("[reshape]") && Contains("negative"));
  REQUIRE_THROWS_WITH(flatten(z64({2, 3, 4}), 2, 1), Contains("[flatten]"));
  REQUIRE_THROWS_WITH(permute(z64({2, 3}), {0}), Contains("[permute]") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(permute(z64({2, 3}), {1, 1}), Contains("[permute]") && Contains("twice"));
  REQUIRE_THROWS_WITH(permute(z64({2, 3}), {0, 2}), Contains("[permute]") && Contains("axis 2") && Contains("rank 2"));
  REQUIRE_THROWS_WITH(transpose(z64({2, 3}), 0, -3), Contains("[transpose]") && Contains("axis -3") && Contains("rank 2"));
  REQUIRE_THROWS_WITH(slice(z64({2, 3}), 1, 0, 3, 0), Contains("[slice]") && Contains("step"));
  REQUIRE_THROWS_WITH(slice(z64({2, 3}), 2, 0, 1), Contains("[slice]") && Contains("axis 2"));
  REQUIRE_THROWS_WITH(select(z64({2, 3}), 1, 3), Contains("[select]") && Contains("index 3") && Contains("size 3"));
  REQUIRE_THROWS_WITH(select(z64({2, 3}), 0, -3), Contains("[select]") && Contains("index -3"));
  REQUIRE_THROWS_WITH(expand(z64({2, 3}), {2, 4}), Contains("[expand]") && Contains("(2, 3)") && Contains("(2, 4)"));
  REQUIRE_THROWS_WITH(expand(z64({2, 3}), {3}), Contains("[expand]") && Contains("(2, 3)") && Contains("(3,)"));
  REQUIRE_THROWS_WITH(squeeze(z64({2, 3}), 0), Contains("[squeeze]") && Contains("(2, 3)") && Contains("not 1"));
  REQUIRE_THROWS_WITH(unsqueeze(z64({2, 3}), 3), Contains("[unsqueeze]") && Contains("axis 3"));
  REQUIRE_THROWS_WITH(unsqueeze(z64({2, 3}), -4), Contains("[unsqueeze]") && Contains("axis -4") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(sum_to(z64({2, 3}), {4}), Contains("[sum_to]") && Contains("(2, 3)") && Contains("(4,)"));
  REQUIRE_THROWS_WITH(sum_to(z64({3}), {2, 3}), Contains("[sum_to]") && Contains("(3,)") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(reshape(z64({2}), {1, 1, 1, 1, 1, 1, 1, 1, 2}), Contains("rank 9") && Contains("maximum rank 8"));
}

TEST_CASE("inserting an axis accepts exactly the positions -(rank + 1) to rank") {
  check_shape(unsqueeze(z64({2, 3}), -3), {1, 2, 3});
  check_shape(unsqueeze(z64({2, 3}), 2), {2, 3, 1});
  check_shape(stack({z64({2, 3}), z64({2, 3})}, -3), {2, 2, 3});
  check_shape(stack({z64({2, 3}), z64({2, 3})}, -1), {2, 3, 2});
  check_shape(stack({z64({2, 3}), z64({2, 3})}, 2), {2, 3, 2});
}

TEST_CASE("reductions: axes, empty inputs, degrees of freedom") {
  REQUIRE_THROWS_WITH(sum(z64({2, 3}), {2}), Contains("[sum]") && Contains("axis 2") && Contains("rank 2"));
  REQUIRE_THROWS_WITH(mean(z64({2, 3}), {-3}), Contains("[mean]") && Contains("axis -3"));
  REQUIRE_THROWS_WITH(sum(z64({2, 3}), {1, -1}), Contains("[sum]") && Contains("twice") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(max(z64({2, 0}), {1}), Contains("[max]") && Contains("empty") && Contains("(2, 0)"));
  REQUIRE_THROWS_WITH(min(z64({0}), {}), Contains("[min]") && Contains("(0,)"));
  REQUIRE_THROWS_WITH(mean(z64({0, 3}), {0}), Contains("[mean]") && Contains("(0, 3)"));
  REQUIRE_THROWS_WITH(var(z64({1, 3}), {0}, false, 1), Contains("[var]") && Contains("correction 1"));
  REQUIRE_THROWS_WITH(argmax(z64({2, 3}), 2), Contains("[argmax]") && Contains("axis 2"));
  REQUIRE_THROWS_WITH(argmin(z64({2, 0}), 1), Contains("[argmin]") && Contains("(2, 0)"));
  REQUIRE_THROWS_WITH(logsumexp(z64({2, 3}), {5}), Contains("axis 5") && Contains("rank 2"));
  // Floating-point reductions refuse int64 (mean's 1/n would truncate to 0).
  REQUIRE_THROWS_WITH(mean(zi({2, 3})), Contains("[mean]") && Contains("int64") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(var(zi({2, 3}), {1}), Contains("[var]") && Contains("int64") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(logsumexp(zi({2, 3})), Contains("[logsumexp]") && Contains("int64") && Contains("(2, 3)"));
}

TEST_CASE("softmax and layer_norm: axes, dtypes, parameter shapes") {
  REQUIRE_THROWS_WITH(softmax(z64({2, 3}), 2), Contains("[softmax]") && Contains("axis 2") && Contains("rank 2"));
  REQUIRE_THROWS_WITH(log_softmax(z64({2, 3}), -3), Contains("[log_softmax]") && Contains("axis -3"));
  REQUIRE_THROWS_WITH(softmax(zi({2, 3})), Contains("[softmax]") && Contains("int64"));
  REQUIRE_THROWS_WITH(softmax(z64({})), Contains("[softmax]") && Contains("scalar"));
  REQUIRE_THROWS_WITH(layer_norm(z64({2, 3}), z64({4}), Tensor()),
                      "[layer_norm] input (2, 3): scale has shape (4,), expected (3,)");
  REQUIRE_THROWS_WITH(layer_norm(z64({2, 3}), Tensor(), z64({3, 1})),
                      Contains("[layer_norm]") && Contains("bias") && Contains("(3, 1)") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(layer_norm(z64({2, 3}), z32({3}), Tensor()),
                      Contains("[layer_norm]") && Contains("float64") && Contains("float32"));
  REQUIRE_THROWS_WITH(layer_norm(zi({2, 3}), Tensor(), Tensor()), Contains("[layer_norm]") && Contains("int64"));
  REQUIRE_THROWS_WITH(layer_norm(z64({}), Tensor(), Tensor()), Contains("[layer_norm]") && Contains("scalar"));
  REQUIRE_THROWS_WITH(layer_norm(z64({2, 3}), zeros({3}, {DType::float64, kOtherCPU}), Tensor()),
                      Contains("[layer_norm]") && Contains("scale is on"));
  REQUIRE_THROWS_WITH(layer_norm(z64({2, 3}), Tensor(), zeros({3}, {DType::float64, kOtherCPU})),
                      Contains("[layer_norm]") && Contains("bias is on"));
  REQUIRE_THROWS_WITH(layer_norm_backward(z64({2, 3}), z64({2, 4})),
                      "[layer_norm_backward] x has shape (2, 3) but gy has shape (2, 4), expected the same");
  REQUIRE_THROWS_WITH(layer_norm_backward(z64({2, 3}), z32({2, 3})),
                      Contains("[layer_norm_backward]") && Contains("float64") && Contains("float32"));
  REQUIRE_THROWS_WITH(layer_norm_backward(zi({2, 3}), zi({2, 3})), Contains("[layer_norm_backward]") && Contains("int64"));
  REQUIRE_THROWS_WITH(layer_norm_backward(z64({2, 3}), zeros({2, 3}, {DType::float64, kOtherCPU})),
                      Contains("[layer_norm_backward]") && Contains("gy is on"));
}

TEST_CASE("index ops: shapes, dtypes and indices out of range") {
  REQUIRE_THROWS_WITH(concat({z64({2, 3}), z64({2, 4})}, 0),
                      Contains("[concat]") && Contains("(2, 3)") && Contains("(2, 4)") && Contains("axis 0"));
  REQUIRE_THROWS_WITH(concat({z64({2, 3}), z32({2, 3})}), Contains("[concat]") && Contains("float32"));
  REQUIRE_THROWS_WITH(concat({z64({2, 3}), z64({2, 3, 1})}), Contains("[concat]") && Contains("(2, 3, 1)"));
  REQUIRE_THROWS_WITH(concat({}), Contains("[concat]"));
  REQUIRE_THROWS_WITH(concat({z64({2}), zeros({2}, {DType::float64, kOtherCPU})}),
                      Contains("[concat]") && Contains("tensor 1 is on"));
  REQUIRE_THROWS_WITH(index_select(z64({3, 2}), 0, zeros({1}, {DType::int64, kOtherCPU})),
                      Contains("[index_select]") && Contains("(3, 2)") && Contains("indices are on"));
  REQUIRE_THROWS_WITH(gather(z64({3, 2}), 0, zeros({3, 2}, {DType::int64, kOtherCPU})),
                      Contains("[gather]") && Contains("(3, 2)") && Contains("indices are on"));
  REQUIRE_THROWS_WITH(concat({z64({})}), Contains("[concat]") && Contains("stack"));
  REQUIRE_THROWS_WITH(concat({z64({2, 3})}, 2), Contains("[concat]") && Contains("axis 2"));
  REQUIRE_THROWS_WITH(stack({z64({2, 3}), z64({2, 3})}, -4), Contains("[stack]") && Contains("axis -4"));
  REQUIRE_THROWS_WITH(stack({z64({2, 3}), z64({2, 3})}, 3), Contains("[stack]") && Contains("axis 3"));
  REQUIRE_THROWS_WITH(stack({z64({2, 3}), z64({3, 2})}), Contains("[stack]") && Contains("(2, 3)") && Contains("(3, 2)"));
  REQUIRE_THROWS_WITH(split(z64({5, 2}), {2, 2}), Contains("[split]") && Contains("(5, 2)") && Contains("4"));
  REQUIRE_THROWS_WITH(split(z64({5, 2}), {6, -1}), Contains("[split]") && Contains("negative"));
  REQUIRE_THROWS_WITH(chunk(z64({5, 2}), 2), Contains("[chunk]") && Contains("(5, 2)") && Contains("2 equal pieces"));
  REQUIRE_THROWS_WITH(chunk(z64({4, 2}), 0), Contains("[chunk]"));

  REQUIRE_THROWS_WITH(index_select(z64({3, 2}), 0, z64({1})), Contains("[index_select]") && Contains("int64"));
  REQUIRE_THROWS_WITH(index_select(z64({3, 2}), 0, i64({0, 1}, {1, 2})),
                      Contains("[index_select]") && Contains("1-D") && Contains("(1, 2)"));
  REQUIRE_THROWS_WITH(index_select(z64({3, 2}), 0, i64({0, 3}, {2})),
                      Contains("[index_select]") && Contains("index 3") && Contains("size 3"));
  REQUIRE_THROWS_WITH(index_select(z64({3, 2}), 1, i64({-3}, {1})), Contains("[index_select]") && Contains("index -3"));
  REQUIRE_THROWS_WITH(index_select(z64({3, 2}), 2, i64({0}, {1})), Contains("[index_select]") && Contains("axis 2"));
  REQUIRE_THROWS_WITH(gather(z64({3, 2}), 1, i64({0, 1}, {2})),
                      Contains("[gather]") && Contains("(2,)") && Contains("(3, 2)") && Contains("rank"));
  REQUIRE_THROWS_WITH(gather(z64({3, 2}), 1, i64({0, 1}, {2, 1})),
                      Contains("[gather]") && Contains("(2, 1)") && Contains("(3, 2)"));
  REQUIRE_THROWS_WITH(gather(z64({3, 2}), 1, i64({0, 2, 1}, {3, 1})), Contains("[gather]") && Contains("index 2"));
  REQUIRE_THROWS_WITH(gather(z64({3, 2}), 0, z64({3, 2})), Contains("[gather]") && Contains("int64"));
  REQUIRE_THROWS_WITH(one_hot(z64({1}), 3), Contains("[one_hot]") && Contains("int64"));
  REQUIRE_THROWS_WITH(one_hot(i64({1}, {1}), 0), Contains("[one_hot]") && Contains("class"));
  REQUIRE_THROWS_WITH(one_hot(i64({0, 3, 1}, {3}), 3), Contains("[one_hot]") && Contains("3") && Contains("classes"));
  REQUIRE_THROWS_WITH(one_hot(i64({-1}, {1}), 3), Contains("[one_hot]") && Contains("-1"));
}

TEST_CASE("creation: counts, steps, sizes, dtypes, devices") {
  REQUIRE_THROWS_WITH(from_vector(Vec{1, 2, 3}, {2, 2}), "[from_vector] 3 values for shape (2, 2) (4 elements)");
  REQUIRE_THROWS_WITH(arange(0, 5, 0), Contains("[arange]") && Contains("step"));
  REQUIRE_THROWS_WITH(eye(-1), Contains("[eye]") && Contains("-1"));
  REQUIRE_THROWS_WITH(zeros({2, -3}), Contains("negative dimension") && Contains("(2, -3)"));
  REQUIRE_THROWS_WITH(uniform({2}, 0, 1, {DType::int64}), Contains("[uniform]") && Contains("int64"));
  REQUIRE_THROWS_WITH(normal({2}, 0, 1, {DType::int64}), Contains("[normal]") && Contains("int64"));
  REQUIRE_THROWS_WITH(randperm(-1), Contains("[randperm]"));
  REQUIRE_THROWS_WITH(zeros({2}, {DType::float32, parse_device("cuda")}), Contains("[device]") && Contains("CUDA"));
  REQUIRE_THROWS_WITH(parse_device("gpu"), Contains("[device]") && Contains("'gpu'"));
}

TEST_CASE("tensor accessors and autodiff entry points") {
  REQUIRE_THROWS_WITH(z64({2, 3}).item<double>(), Contains("[item]") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(z64({2}).data<float>(), Contains("[data]") && Contains("float64") && Contains("float"));
  REQUIRE_THROWS_WITH(zi({2}).requires_grad_(), Contains("[requires_grad_]") && Contains("int64"));
  Tensor leaf = z64({2}).requires_grad_();
  REQUIRE_THROWS_WITH((leaf * 2.0).requires_grad_(), Contains("[requires_grad_]"));
  REQUIRE_THROWS_WITH(gradcheck([](const std::vector<Tensor>& v) { return v[0]; }, {z32({2})}),
                      Contains("[gradcheck]") && Contains("float32"));
  // In-place writes into a leaf that requires grad are refused while recording.
  REQUIRE_THROWS_WITH(fill_(leaf, 1.0), Contains("requires grad") && Contains("NoGrad"));
  {
    NoGrad no_grad;
    fill_(leaf, 1.0);
  }
  check_values(leaf, {1, 1});
}
