// Analytic FLOP counts: matrix products only, 2 FLOPs per multiply-add, per image.
//
// Forward, "as the paper counts it": every product the layer's forward computes, the inner
// loop's included, with the terms that involve W0 counted even where W0 = 0 (MTTT-Linear), and
// the inner backward taking the cotangents of all the inner loss's inputs (W and the training
// view K), as reverse mode through the whole loss does before anything is pruned. With that
// convention the paper's table 1 (1.1x, 1.5x) and table 3 (3.9x) come out; docs/flops.md
// compares every figure with the paper's.
//
// Training, "as executed": the forward this engine runs (the inner backward takes only the
// fast weights' cotangents), plus the outer backward, in which each product costs one more
// product per operand that needs a cotangent — the inner loop's own backward products
// included, which is the second order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mttt::ttt {

struct Product {
  std::string what;
  double flops = 0;            // 2 m k n, times the repeat count
  int operands_with_grad = 2;  // operands that need a cotangent in the outer backward
  bool executed = true;        // false: counted by the paper's convention only
};

struct LayerShape {
  std::string kind;  // self_attention, kernel, linear_attention, linear_attention_elu, mttt_linear, mttt_mlp
  std::int64_t tokens = 0, width = 0, heads = 1;
  int steps = 1;
  bool sgd = false;
};

std::vector<Product> layer_products(const LayerShape& shape);

struct ModelShape {
  LayerShape layer;          // tokens, width, heads and the drop-in layer
  std::int64_t depth = 12, mlp_dim = 0, patch_features = 0, classes = 1000;
};

std::vector<Product> model_products(const ModelShape& shape);

struct FlopTotals {
  double forward = 0;   // the paper's convention
  double training = 0;  // as executed: forward + outer backward
};
FlopTotals totals(const std::vector<Product>& products);

}  // namespace mttt::ttt
