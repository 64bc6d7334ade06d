// Fusion: gelu(a * b + c) on 16M float32 elements, three ways:
//   fused      fuse(...): one pass over memory and one tape node; its backward is one pass too
//              (the joint vjp of the three inputs)
//   op by op   the same call with fusion switched off (FusionScope, as MTTT_FUSION=0): every
//              instruction is its own kernel and tape node, forward and backward (gelu's
//              derivative included). The baseline.
//   3 ops      gelu(a * b + c) written with tensor ops: three kernels and three tape nodes,
//              each op's backward rule fused (what an eager framework does). For context.
// Outputs and gradients are allocated inside the timed region (from the caching pool, as in
// training); the backward seed is made once outside it.
#include <cmath>

#include "tensor/tensor.hpp"
#include "tools/bench/sections.hpp"

namespace mttt::bench {

namespace {

constexpr std::int64_t kElements = std::int64_t{16} << 20;

enum class Variant { fused, op_by_op, three_ops };

Tensor gelu_fma(Variant variant, const Tensor& a, const Tensor& b, const Tensor& c) {
  if (variant == Variant::three_ops) return gelu(a * b + c);
  FusionScope fusion(variant == Variant::fused);
  return fuse([](Expr x, Expr y, Expr z) { return gelu(x * y + z); }, a, b, c);
}

double max_difference(const Tensor& x, const Tensor& y) {
  NoGrad no_grad;
  return max(abs(x - y)).item<double>();
}

struct Leaves {
  Tensor a, b, c;
  void zero_grad() {
    a.zero_grad();
    b.zero_grad();
    c.zero_grad();
  }
  std::vector<Tensor> grads() const { return {a.grad(), b.grad(), c.grad()}; }
};

struct Case {
  Timing time[3];                       // by Variant
  double difference = 0;                // largest |variant - fused| over outputs or gradients
  std::int64_t system_allocations = 0;  // raw allocations while timing: 0 once the pool is warm
};

// Times the three variants of one case; `run` returns the values compared across variants.
template <class Run> Case measure_case(const Options& options, Run&& run) {
  Case result;
  std::vector<Tensor> reference;
  const auto before = memory_stats().system_allocations;
  for (Variant v : {Variant::fused, Variant::op_by_op, Variant::three_ops}) {
    std::vector<Tensor> values;
    result.time[static_cast<int>(v)] = measure(options, [&] { values = run(v); });
    if (v == Variant::fused) {
      reference = values;
      continue;
    }
    for (std::size_t i = 0; i < values.size(); ++i)
      result.difference = std::max(result.difference, max_difference(values[i], reference[i]));
  }
  result.system_allocations = memory_stats().system_allocations - before;
  return result;
}

}  // namespace

SectionResult run_fusion(const Options& options) {
  const int threads_before = num_threads();
  Leaves in{uniform({kElements}, -2, 2), uniform({kElements}, -2, 2), uniform({kElements}, -2, 2)};
  in.a.requires_grad_();
  in.b.requires_grad_();
  in.c.requires_grad_();
  const Tensor seed = ones({kElements});
  Table table({"gelu(a * b + c), 16M floats", "threads", "fused ms", "op by op ms", "speed-up", ">= 2x", "3 ops ms",
               "speed-up"});
  nlohmann::json rows = nlohmann::json::array();
  for (int t : options.threads) {
    set_num_threads(t);
    for (bool backward : {false, true}) {
      Case r = measure_case(options, [&](Variant v) -> std::vector<Tensor> {
        if (!backward) {
          NoGrad no_grad;
          return {gelu_fma(v, in.a, in.b, in.c)};
        }
        in.zero_grad();
        FusionScope fusion(v != Variant::op_by_op);  // the sweep runs under the same setting
        gelu_fma(v, in.a, in.b, in.c).backward(seed);
        return in.grads();
      });
      const Timing& fused = r.time[0];
      const Timing& op_by_op = r.time[1];
      const Timing& three = r.time[2];
      const double speedup = op_by_op.median / fused.median, speedup3 = three.median / fused.median;
      const char* name = backward ? "forward + backward" : "forward, no grad";
      table.add({name, std::to_string(t), fmt::format("{:.2f}", fused.median * 1e3),
                 fmt::format("{:.2f}", op_by_op.median * 1e3), fmt::format("{:.2f}x", speedup),
                 speedup >= 2 ? "yes" : "NO", fmt::format("{:.2f}", three.median * 1e3), fmt::format("{:.2f}x", speedup3)});
      rows.push_back({{"case", name},
                      {"threads", t},
                      {"elements", kElements},
                      {"fused_ms_median", fused.median * 1e3},
                      {"op_by_op_ms_median", op_by_op.median * 1e3},
                      {"three_ops_ms_median", three.median * 1e3},
                      {"speedup_vs_op_by_op", speedup},
                      {"speedup_vs_three_ops", speedup3},
                      {"target_met", speedup >= 2},
                      {"max_abs_difference", r.difference},
                      {"system_allocations_while_timing", r.system_allocations},
                      {"fused", fused.to_json()},
                      {"op_by_op", op_by_op.to_json()},
                      {"three_ops", three.to_json()}});
    }
  }
  in.zero_grad();
  set_num_threads(threads_before);
  return {"Fusion: gelu(a * b + c) fused vs op by op (MTTT_FUSION=0: one kernel per instruction) and vs 3 tensor ops "
          "(median ms)",
          table.str(), {{"rows", rows}}};
}

}  // namespace mttt::bench
