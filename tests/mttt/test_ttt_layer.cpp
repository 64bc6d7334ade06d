// The TTT layer: the MTTT-Linear = linear attention identity through the generic engine,
// outer (second-order) gradients against finite differences, evaluation = training forward,
// strict parameter sets, inits.
#include <catch2/catch.hpp>

#include <cmath>

#include "mttt/ttt_layer.hpp"

using namespace mttt;
using namespace mttt::ttt;

namespace {

double rel_error(const Tensor& a, const Tensor& b) {
  NoGrad off;
  return max(abs(cast(a, DType::float64) - cast(b, DType::float64))).item() /
         std::max(max(abs(cast(b, DType::float64))).item(), 1e-300);
}

// Perturbs every bias so that every path of the layer is exercised.
void perturb_biases(TTTParams& p, Generator& gen) {
  NoGrad off;
  for (Tensor* t : {&p.phi_bias, &p.psi_bias, &p.g_bias, &p.h_bias})
    copy_(*t, uniform(t->shape(), -0.5, 0.5, {t->dtype()}, &gen));
}

// Linear attention with the identity feature map and normaliser N d, per head, with keys,
// queries and values built from the TTT parameters as differentiable functions of them:
// K = phi, Q = psi, V = eta (y - b_g) g^T; then the output projection h.
Tensor linear_attention_of(const TTTParams& p, const Tensor& y, double eta) {
  const double N = static_cast<double>(y.size(1)), d = static_cast<double>(p.phi_kernel.size(2));
  Tensor y4 = unsqueeze(y, 1);
  Tensor K = matmul(y4, p.phi_kernel) + unsqueeze(p.phi_bias, 1);
  Tensor Q = matmul(y4, p.psi_kernel) + unsqueeze(p.psi_bias, 1);
  Tensor V = matmul(y4 - p.g_bias, transpose(p.g_kernel)) * eta;
  Tensor attention = matmul(Q, matmul(transpose(K), V)) / (N * d);
  return sum(matmul(attention, p.h_kernel), {1}) + p.h_bias;
}

}  // namespace

TEST_CASE("MTTT-Linear equals linear attention: outputs and every gradient") {
  struct Case {
    std::int64_t B, N, D, H;
    std::uint64_t seed;
    double eta;
  };
  for (DType dtype : {DType::float64, DType::float32}) {
    const double tol = dtype == DType::float64 ? 1e-10 : 1e-4;
    for (Case c : {Case{2, 5, 6, 2, 1, 1.0}, Case{1, 9, 12, 3, 2, 0.5}, Case{3, 4, 8, 1, 3, 2.0}}) {
      CAPTURE(c.B, c.N, c.D, c.H, c.seed, to_string(dtype));
      Generator gen(c.seed);
      TTTOptions o = TTTOptions::mttt_linear(c.H);
      o.eta = {c.eta};
      TTTParams p = init_ttt_params(o, c.D, gen, dtype);
      perturb_biases(p, gen);
      Tensor y = uniform({c.B, c.N, c.D}, -1, 1, {dtype}, &gen).requires_grad_();
      Tensor ttt = ttt_forward(p, o, y).z;
      Tensor attention = linear_attention_of(p, y, c.eta);
      CHECK(rel_error(ttt, attention) < tol);
      Tensor r = uniform(y.shape(), -1, 1, {dtype}, &gen);
      std::vector<Tensor> inputs = {y};
      for (const auto& [name, t] : p.named(o))
        if (t.requires_grad()) inputs.push_back(t);
      auto g1 = grad({sum(ttt * r)}, inputs, {}, {.allow_unused = true});
      auto g2 = grad({sum(attention * r)}, inputs, {}, {.allow_unused = true});
      for (std::size_t i = 0; i < inputs.size(); ++i) CHECK(rel_error(g1[i], g2[i]) < tol);
    }
  }
}

TEST_CASE("swapping the training and test views breaks the identity (the check can fail)") {
  Generator gen(5);
  TTTOptions o = TTTOptions::mttt_linear(2);
  TTTParams p = init_ttt_params(o, 6, gen, DType::float64);
  perturb_biases(p, gen);
  Tensor y = uniform({2, 5, 6}, -1, 1, {DType::float64}, &gen);
  TTTParams swapped = p;
  std::swap(swapped.phi_kernel, swapped.psi_kernel);
  std::swap(swapped.phi_bias, swapped.psi_bias);
  CHECK(rel_error(ttt_forward(p, o, y).z, linear_attention_of(swapped, y, 1.0)) > 1e-2);
}

TEST_CASE("outer gradients through the inner loop match finite differences (MTTT-MLP)") {
  const std::int64_t B = 2, N = 8, D = 6, H = 2;
  struct Case {
    int steps;
    bool sgd;
  };
  for (Case c : {Case{1, false}, Case{4, false}, Case{4, true}}) {
    CAPTURE(c.steps, c.sgd);
    Generator gen(11);
    TTTOptions o = TTTOptions::mttt_mlp(H, c.steps, c.sgd);
    o.eta = std::vector<double>(c.steps, 0.7);
    TTTParams p = init_ttt_params(o, D, gen, DType::float64);
    perturb_biases(p, gen);
    ForwardOptions f;
    if (c.sgd) f.permutation = draw_permutation(H, N, gen);
    Tensor y = uniform({B, N, D}, -1, 1, {DType::float64}, &gen);
    // The outer gradient with respect to y, W0 (first layer), phi, g and the decoder LN scale:
    // each reaches the output only through the inner gradient steps too.
    auto f_outer = [&](const std::vector<Tensor>& v) {
      TTTParams q = p;
      q.inner.tensors[0] = v[1];
      q.phi_kernel = v[2];
      q.g_kernel = v[3];
      q.decoder_ln_scale = v[4];
      return ttt_forward(q, o, v[0], f).z;
    };
    auto r = gradcheck(f_outer, {y, p.inner.tensors[0].detach(), p.phi_kernel.detach(), p.g_kernel.detach(),
                                 p.decoder_ln_scale.detach()});
    CHECK(r.ok);
    CHECK(r.message == "");
  }
}

TEST_CASE("inner gradients (eq. 2) match finite differences of the reconstruction loss (eq. 1)") {
  Generator gen(4);
  TTTOptions o = TTTOptions::mttt_mlp(2);
  TTTParams p = init_ttt_params(o, 6, gen, DType::float64);
  Tensor y4 = unsqueeze(uniform({2, 5, 6}, -1, 1, {DType::float64}, &gen), 1);
  Tensor K = matmul(y4, p.phi_kernel.detach()) + unsqueeze(p.phi_bias.detach(), 1);
  auto loss_of_w = [&](const std::vector<Tensor>& w) {
    return reconstruction_loss(p, o, FastWeights{w}, K, y4);
  };
  std::vector<Tensor> w0;
  for (const Tensor& w : p.inner.tensors) w0.push_back(w.detach());
  auto r = gradcheck(loss_of_w, w0, {.order = 2});
  CHECK(r.ok);
  CHECK(r.message == "");
}

TEST_CASE("evaluation equals the training-mode forward, records nothing and still learns") {
  Generator gen(8);
  TTTOptions o = TTTOptions::mttt_mlp(3, 4, true);
  TTTParams p = init_ttt_params(o, 12, gen, DType::float64);
  ForwardOptions f;
  f.permutation = draw_permutation(3, 16, gen);
  f.collect_inner_losses = true;
  Tensor y = uniform({2, 16, 12}, -1, 1, {DType::float64}, &gen);
  TTTOutput train = ttt_forward(p, o, y, f);
  CHECK(train.z.requires_grad());
  const auto nodes_before = Node::live_count();
  TTTOutput eval;
  {
    NoGrad evaluation;
    eval = ttt_forward(p, o, y, f);
  }
  CHECK_FALSE(eval.z.requires_grad());
  CHECK(Node::live_count() == nodes_before);
  CHECK(rel_error(eval.z, train.z) < 1e-12);
  REQUIRE(eval.inner_losses.size() == 5);
  for (std::size_t t = 0; t < 5; ++t) {
    CHECK(eval.inner_losses[t].shape() == Shape{2, 3});
    CHECK(rel_error(eval.inner_losses[t], train.inner_losses[t]) < 1e-12);
  }
}

TEST_CASE("small gradient steps lower the reconstruction loss (full batch)") {
  Generator gen(9);
  TTTOptions o = TTTOptions::mttt_mlp(2, 3, false);
  o.eta = {0.05, 0.05, 0.05};
  TTTParams p = init_ttt_params(o, 8, gen, DType::float64);
  Tensor y = uniform({2, 10, 8}, -1, 1, {DType::float64}, &gen);
  NoGrad evaluation;
  auto out = ttt_forward(p, o, y, {.collect_inner_losses = true});
  for (std::size_t t = 0; t + 1 < out.inner_losses.size(); ++t)
    CHECK(sum(out.inner_losses[t + 1]).item() < sum(out.inner_losses[t]).item());
}

TEST_CASE("parameter sets are strict about names and shapes") {
  Generator gen(1);
  TTTOptions o = TTTOptions::mttt_mlp(2);
  TTTParams p = init_ttt_params(o, 6, gen, DType::float64);
  auto named = p.named(o);
  CHECK(named.size() == 14);
  CHECK_NOTHROW(TTTParams::from_named(named, o));
  auto missing = named;
  missing.erase(missing.begin() + 3);
  REQUIRE_THROWS_WITH(TTTParams::from_named(missing, o), Catch::Contains("'psi.bias' is missing"));
  auto extra = named;
  extra.emplace_back("query.kernel", zeros({6, 6}, {DType::float64}));
  REQUIRE_THROWS_WITH(TTTParams::from_named(extra, o), Catch::Contains("unexpected parameter 'query.kernel'"));
  auto wrong = named;
  wrong[5].second = zeros({5}, {DType::float64});  // g.bias
  REQUIRE_THROWS_WITH(TTTParams::from_named(wrong, o), Catch::Contains("'g.bias'") && Catch::Contains("(6,)"));
  TTTOptions three = o;
  three.heads = 4;
  REQUIRE_THROWS_WITH(TTTParams::from_named(named, three), Catch::Contains("H = 4"));
  Tensor y = zeros({1, 7, 6}, {DType::float64});
  TTTOptions sgd = TTTOptions::mttt_mlp(2, 4, true);
  REQUIRE_THROWS_WITH(ttt_forward(init_ttt_params(sgd, 6, gen, DType::float64), sgd, y, {}),
                      Catch::Contains("divisible by T"));
  TTTOptions etas = o;
  etas.eta = {1.0, 2.0};
  REQUIRE_THROWS_WITH(ttt_forward(p, etas, y), Catch::Contains("2 values of eta for T = 1"));
}

TEST_CASE("initialisation follows the spec's table, fixed and paper") {
  Generator gen(2);
  const std::int64_t D = 48, H = 3, d = 16;
  TTTOptions o = TTTOptions::mttt_mlp(H);
  TTTParams fixed = init_ttt_params(o, D, gen);
  o.init = InitScheme::paper;
  TTTParams paper = init_ttt_params(o, D, gen);
  const double view = std::sqrt(3.0 / D);
  CHECK(max(abs(fixed.phi_kernel)).item() <= view);
  CHECK(max(abs(fixed.phi_kernel)).item() > 0.9 * view);
  CHECK(max(abs(paper.psi_kernel)).item() <= view / std::sqrt(3.0));
  const double inner = std::sqrt(6.0 / (d + 4 * d));
  CHECK(max(abs(fixed.inner.tensors[0])).item() <= inner);
  CHECK(max(abs(fixed.inner.tensors[0])).item() > 0.9 * inner);
  CHECK(max(abs(paper.inner.tensors[2])).item() <= std::sqrt(6.0 / (5.0 * D)));
  CHECK(sum(abs(fixed.g_bias)).item() == 0);
  CHECK(min(fixed.decoder_ln_scale).item() == 1);
  TTTParams linear = init_ttt_params(TTTOptions::mttt_linear(H), D, gen);
  CHECK_FALSE(linear.inner.tensors[0].requires_grad());
  CHECK(sum(abs(linear.inner.tensors[0])).item() == 0);
  CHECK(linear.phi_kernel.requires_grad());
}
