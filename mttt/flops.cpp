#include "mttt/flops.hpp"

#include "tensor/error.hpp"

namespace mttt::ttt {

namespace {

// 2 m k n FLOPs for an (m, k) @ (k, n) product, `repeat` times.
double mm(double m, double k, double n, double repeat = 1) { return 2.0 * m * k * n * repeat; }

void attention_projections(std::vector<Product>& p, double N, double D, int count) {
  const char* names[] = {"query", "key", "value", "output"};
  for (int i = 0; i < count; ++i) p.push_back({std::string(names[i]) + " projection", mm(N, D, D)});
}

}  // namespace

std::vector<Product> layer_products(const LayerShape& s) {
  const double N = static_cast<double>(s.tokens), D = static_cast<double>(s.width), H = static_cast<double>(s.heads);
  check(s.heads >= 1 && s.width % s.heads == 0, "flops", "width {} is not divisible by {} heads", s.width, s.heads);
  const double d = D / H;
  std::vector<Product> p;
  if (s.kind == "self_attention" || s.kind == "kernel") {
    attention_projections(p, N, D, 4);
    p.push_back({"scores Q K^T", mm(N, d, N, H)});
    p.push_back({"weights @ V", mm(N, N, d, H)});
    return p;
  }
  if (s.kind == "linear_attention" || s.kind == "linear_attention_elu") {
    attention_projections(p, N, D, 4);
    p.push_back({"K^T V", mm(d, N, d, H)});
    p.push_back({"Q (K^T V)", mm(N, d, d, H)});
    if (s.kind == "linear_attention_elu") p.push_back({"normaliser Q . sum K", mm(N, d, 1, H)});
    return p;
  }
  check(s.kind == "mttt_linear" || s.kind == "mttt_mlp", "flops",
        "unknown layer '{}': expected self_attention, kernel, linear_attention, linear_attention_elu, mttt_linear or "
        "mttt_mlp",
        s.kind);
  const bool mlp = s.kind == "mttt_mlp";
  const double hidden = mlp ? 4 * d : d;
  p.push_back({"views phi, psi", mm(N, D, d, 2 * H)});
  // The inner loop: T steps on |S| tokens each (all N for GD, N / T for SGD).
  const double m = s.sgd ? N / s.steps : N;
  const double steps = s.steps;
  const int w_grad = mlp ? 2 : 1;  // MTTT-Linear's W0 is frozen: at t = 1 only K needs a cotangent
  if (mlp) {
    p.push_back({"inner f: K W1", mm(m, d, hidden, H * steps), w_grad});
    p.push_back({"inner f: hidden W2", mm(m, hidden, d, H * steps), w_grad});
  } else {
    p.push_back({"inner f: K W", mm(m, d, d, H * steps), w_grad});
  }
  p.push_back({"inner decoder g", mm(m, d, D, H * steps)});
  p.push_back({"inner backward: delta g^T", mm(m, D, d, H * steps)});
  if (mlp) {
    p.push_back({"inner backward: grad W2 = hidden^T delta", mm(hidden, m, d, H * steps)});
    p.push_back({"inner backward: delta W2^T", mm(m, d, hidden, H * steps)});
    p.push_back({"inner backward: grad W1 = K^T delta", mm(d, m, hidden, H * steps)});
    p.push_back({"inner backward: cotangent of K (paper's count)", mm(m, hidden, d, H * steps), 0, false});
  } else {
    p.push_back({"inner backward: grad W = K^T delta", mm(d, m, d, H * steps)});
    p.push_back({"inner backward: cotangent of K (paper's count)", mm(m, d, d, H * steps), 0, false});
  }
  if (mlp) {
    p.push_back({"prediction f: Q W1", mm(N, d, hidden, H)});
    p.push_back({"prediction f: hidden W2", mm(N, hidden, d, H)});
  } else {
    p.push_back({"prediction f: Q W", mm(N, d, d, H)});
  }
  p.push_back({"output h", mm(N, d, D, H)});
  return p;
}

std::vector<Product> model_products(const ModelShape& s) {
  const double N = static_cast<double>(s.layer.tokens), D = static_cast<double>(s.layer.width);
  std::vector<Product> p;
  p.push_back({"patch embedding", mm(N, static_cast<double>(s.patch_features), D), 1});
  for (Product block : layer_products(s.layer)) {
    block.what = "blocks x" + std::to_string(s.depth) + ": " + block.what;
    block.flops *= static_cast<double>(s.depth);
    p.push_back(block);
  }
  const double M = static_cast<double>(s.mlp_dim);
  p.push_back({"blocks x" + std::to_string(s.depth) + ": MLP", mm(N, D, M, 2.0 * static_cast<double>(s.depth))});
  p.push_back({"pre_logits", mm(1, D, D)});
  p.push_back({"head", mm(1, D, static_cast<double>(s.classes))});
  return p;
}

FlopTotals totals(const std::vector<Product>& products) {
  FlopTotals t;
  for (const Product& p : products) {
    t.forward += p.flops;
    if (p.executed) t.training += p.flops * (1 + p.operands_with_grad);
  }
  return t;
}

}  // namespace mttt::ttt
