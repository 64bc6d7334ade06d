// Tape overhead: a chain of 10,000 real ops on one-element float32 tensors (alternately
// x = tanh(x) and x = x * w, w a leaf that requires grad), forward and backward, divided by the
// node count. With one element per op the kernels are nothing; what is measured is the engine:
// dispatch, output allocation, recording, the sweep, gradient accumulation and the tape's
// teardown. The forward without grad is timed too, to tell dispatch from tape.
#include <cmath>

#include "tensor/tensor.hpp"
#include "tools/bench/sections.hpp"

namespace mttt::bench {

namespace {

constexpr int kNodes = 10000;

Tensor chain(Tensor x, const Tensor& w) {
  for (int i = 0; i < kNodes; ++i) x = i % 2 == 0 ? tanh(x) : x * w;
  return x;
}

// The same chain and its gradients in double precision, by hand: the benchmark checks that
// it times a correct sweep.
struct Reference {
  double dx0 = 0, dw = 0;
};
Reference reference(double x0, double w) {
  std::vector<double> xs{x0};
  for (int i = 0; i < kNodes; ++i) xs.push_back(i % 2 == 0 ? std::tanh(xs.back()) : xs.back() * w);
  Reference r;
  double g = 1;
  for (int i = kNodes - 1; i >= 0; --i) {
    if (i % 2 == 0) {
      g *= 1 - xs[i + 1] * xs[i + 1];
    } else {
      r.dw += g * xs[i];
      g *= w;
    }
  }
  r.dx0 = g;
  return r;
}

double relative_error(double x, double ref) { return std::abs(x - ref) / std::max(std::abs(ref), 1e-30); }

}  // namespace

SectionResult run_tape(const Options& options) {
  const int threads_before = num_threads();
  // w = 1 keeps x near the fixed point 0 where tanh' is 1: the gradient shrinks only
  // polynomially along the chain instead of underflowing, so the check below means something.
  constexpr double x0_value = 0.5, w_value = 1.0;
  Tensor x0 = full({1}, x0_value), w = full({1}, w_value);
  x0.requires_grad_();
  w.requires_grad_();
  Table table({"chain of 10,000 ops on 1-element tensors", "threads", "us/node", "(best)", "CPU us/node", "ms/chain"});
  nlohmann::json rows = nlohmann::json::array();
  const Reference ref = reference(x0_value, w_value);
  double worst_error = 0;
  std::int64_t nodes_recorded = 0;

  for (int t : options.threads) {
    set_num_threads(t);
    Timing no_grad = measure(options, [&] {
      NoGrad off;
      chain(x0, w);
    });
    Timing forward = measure(options, [&] { chain(x0, w); });
    Timing total = measure(options, [&] {
      x0.zero_grad();
      w.zero_grad();
      chain(x0, w).backward();
    });
    {
      auto live = Node::live_count();
      Tensor y = chain(x0, w);
      nodes_recorded = Node::live_count() - live;
    }
    worst_error = std::max({worst_error, relative_error(x0.grad().item<double>(), ref.dx0),
                            relative_error(w.grad().item<double>(), ref.dw)});
    const double per_node = total.median / kNodes * 1e6;
    auto row = [&](const char* name, const Timing& timing) {
      table.add({name, std::to_string(t), fmt::format("{:.3f}", timing.median / kNodes * 1e6),
                 fmt::format("{:.3f}", timing.min / kNodes * 1e6),
                 fmt::format("{:.3f}", timing.thread_cpu_median / kNodes * 1e6),
                 fmt::format("{:.2f}", timing.median * 1e3)});
    };
    row("forward, no grad (dispatch only)", no_grad);
    row("forward, recording the tape", forward);
    row("forward + backward (target < 1 us)", total);
    rows.push_back({{"threads", t},
                    {"nodes", kNodes},
                    {"us_per_node_median", per_node},
                    {"us_per_node_best", total.min / kNodes * 1e6},
                    {"thread_cpu_us_per_node_median", total.thread_cpu_median / kNodes * 1e6},
                    {"forward_no_grad_us_per_node", no_grad.median / kNodes * 1e6},
                    {"forward_recording_us_per_node", forward.median / kNodes * 1e6},
                    {"target_met", per_node < 1.0},
                    {"forward_backward", total.to_json()},
                    {"forward_recording", forward.to_json()},
                    {"forward_no_grad", no_grad.to_json()}});
  }
  x0.zero_grad();
  w.zero_grad();
  set_num_threads(threads_before);
  return {"Tape overhead: x = tanh(x) and x = x * w alternately, 10,000 nodes, allocation included",
          table.str(),
          {{"rows", rows},
           {"nodes_recorded_per_chain", nodes_recorded},
           {"gradient_relative_error_vs_float64", worst_error}}};
}

}  // namespace mttt::bench
