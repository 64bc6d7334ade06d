// Bilevel optimisation with two nested loops, the way MTTT trains a TTT layer, on a toy that
// fits on a screen. Read it next to the paper, sections 2 and 3.
//
// The data. Each instance X is a set of n noisy tokens x_i = U c_i + noise in R^D, where the
// subspace U (rank r) is the instance's own: no two instances share it. The main task is to
// denoise each token: predict the clean U c_i from x_i. No fixed map can do that for every
// instance, since each instance has its own subspace; but the instance's tokens themselves show
// where its subspace lies, if something learns from them at test time.
//
// The inner loop (paper eqs. 1-2) learns on each instance by self-supervision: a linear encoder
// W (D x D) is fitted by T gradient steps to reconstruct each token x_i from a view phi(x_i):
//     l(W; X) = 1/(2n) sum_i || g(f(phi(x_i); W)) - x_i ||^2,   W_t = W_{t-1} - eta grad l(W_{t-1}; X)
// The outer loop (eqs. 4-6) learns everything the inner loop is given — the views phi and psi,
// the decoder g, the head h, the initial W0 and the step size eta — by gradient descent on the
// main-task loss after the T inner steps, differentiating through those steps.
//
// Run: ./build/examples/bilevel/bilevel   (about 3 seconds; prints inner losses per step and the
// outer objective as training goes)
#include <cmath>

#include <fmt/format.h>

#include "nn/optim/optimizer.hpp"
#include "tensor/tensor.hpp"

using namespace mttt;

namespace {

constexpr std::int64_t kBatch = 32;   // instances per outer step
constexpr std::int64_t kTokens = 24;  // n: tokens per instance, the inner loop's "dataset"
constexpr std::int64_t kWidth = 8;    // D
constexpr std::int64_t kRank = 2;     // r: each instance's subspace
constexpr int kInnerSteps = 3;        // T
constexpr double kNoise = 0.15;  // per coordinate; clean tokens have norm about 1

struct Batch {
  Tensor noisy;  // (B, n, D): the instance, all the inner loop sees
  Tensor clean;  // (B, n, D): the main task's labels
};

Batch sample(Generator& g) {
  NoGrad data;
  Tensor basis = normal({kBatch, kWidth, kRank}, 0, 1, {DType::float64}, &g);  // U, one per instance
  Tensor codes = normal({kBatch, kRank, kTokens}, 0, 1, {DType::float64}, &g);
  Tensor clean = transpose(matmul(basis, codes)) * (1.0 / std::sqrt(double(kRank * kWidth)));  // (B, n, D)
  return {clean + normal(clean.shape(), 0, kNoise, {DType::float64}, &g), clean};
}

// What the outer loop learns: theta = (phi, psi, g, h, W0, log eta), paper section 3.
struct Theta {
  Tensor phi, psi, g, h, w0, log_eta;
  NamedTensors named() const {
    return {{"phi", phi}, {"psi", psi}, {"g", g}, {"h", h}, {"w0", w0}, {"log_eta", log_eta}};
  }
};

Theta init(Generator& gen) {
  auto matrix = [&] { return (eye(kWidth, {DType::float64}) + normal({kWidth, kWidth}, 0, 0.1, {DType::float64}, &gen)).detach().requires_grad_(); };
  Theta t{matrix(), matrix(), matrix(), matrix(), zeros({kWidth, kWidth}, {DType::float64}).requires_grad_(),
          full({}, std::log(1.0), {DType::float64}).requires_grad_()};
  return t;
}

// Eq. (1): the self-supervised loss of fast weights W (B, D, D) on every instance at once,
// summed over instances (each instance's W only sees its own loss).
Tensor inner_loss(const Theta& t, const Tensor& W, const Tensor& x) {
  Tensor reconstruction = matmul(matmul(matmul(x, t.phi), W), t.g);  // g(f(phi(x); W))
  return sum(square(reconstruction - x)) * (1.0 / (2.0 * kTokens));
}

struct Forward {
  Tensor prediction;                  // (B, n, D)
  std::vector<double> inner_losses;   // l(W_t; X) for t = 0..T, averaged over instances
};

Forward forward(const Theta& t, const Tensor& x) {
  Forward out;
  const bool outer = grad_enabled();  // training: differentiate through the inner loop
  Tensor eta = exp(t.log_eta);
  EnableGrad inner;                   // the inner loop takes gradients even at evaluation
  // Every instance starts from W0 and learns its own W.
  Tensor W = expand(unsqueeze(t.w0, 0), {kBatch, kWidth, kWidth});
  if (!outer) W = W.detach().requires_grad_();
  for (int step = 0; step < kInnerSteps; ++step) {
    Tensor loss = inner_loss(t, W, x);
    out.inner_losses.push_back(loss.item() / kBatch);
    // Eq. (2). create_graph: the outer gradient will flow through this gradient too — the
    // second-order term that makes phi and g (the self-supervised task) learnable at all.
    Tensor gradient = grad(loss, W, {.create_graph = outer});
    W = W - eta * gradient;
    if (!outer) W = W.detach().requires_grad_();
  }
  out.inner_losses.push_back(inner_loss(t, W, x).item() / kBatch);
  // Eq. (3): predict with the adapted weights, h(f(psi(x); W_T)).
  out.prediction = matmul(matmul(matmul(x, t.psi), W), t.h);
  return out;
}

Tensor main_task_loss(const Tensor& prediction, const Tensor& clean) { return mean(square(prediction - clean)); }

}  // namespace

int main() {
  Generator data(1), init_gen(2);
  Theta theta = init(init_gen);
  // Outer loop optimiser: Adam on theta, as MTTT trains a whole ViT with it.
  nn::OptimizerOptions options;
  options.lr = nn::warmup_cosine_schedule(0.001, 100, 3000);
  options.clip_norm = 1.0;
  nn::Adam adam(theta.named(), options);

  Batch test = sample(data);
  auto evaluate = [&] {
    NoGrad evaluation;  // the inner loop still learns; nothing is recorded for the outer loop
    Forward f = forward(theta, test.noisy);
    return std::make_pair(main_task_loss(f.prediction, test.clean).item(), f.inner_losses);
  };
  const double identity = [&] {
    NoGrad off;
    return main_task_loss(test.noisy, test.clean).item();
  }();
  // Without an inner loop, the best any fixed map can do is shrink each token towards 0 (the
  // subspaces are random, so on average every direction looks alike): Wiener shrinkage with
  // signal variance 1/D and noise variance sigma^2 per coordinate.
  const double signal = 1.0 / kWidth, noise = kNoise * kNoise;
  fmt::print("Main-task loss of returning the noisy tokens unchanged: {:.4f}\n", identity);
  fmt::print("Best fixed linear map, which cannot adapt to an instance:  {:.4f}\n\n", signal * noise / (signal + noise));
  fmt::print("{:>6} {:>11} {:>9}   inner loss l(W_t) on test instances, t = 0..{}\n", "outer", "test loss", "eta",
             kInnerSteps);
  for (int step = 0; step <= 3000; ++step) {
    if (step % 375 == 0) {
      auto [loss, inner] = evaluate();
      fmt::print("{:>6} {:>11.4f} {:>9.4f}   {:.4f}\n", step, loss, std::exp(theta.log_eta.item()),
                 fmt::join(inner, " -> "));
    }
    Batch batch = sample(data);
    Tensor loss = main_task_loss(forward(theta, batch.noisy).prediction, batch.clean);
    loss.backward();  // through the inner loop: the outer gradient of eqs. (4)-(6)
    adam.step();
    adam.zero_grad();
  }
  fmt::print("\nEach row: the outer loop's progress (test loss falls) and, within it, the inner loop\n"
             "learning each test instance (its self-supervised loss falls with every step).\n");
}
