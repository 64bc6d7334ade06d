// Gradient buckets (nn/distributed/): every rank's gradients become their average, across bucket
// boundaries, with a parameter unused on some ranks counted as zeros there.
#include <catch2/catch.hpp>

#include "nn/distributed/gradient_buckets.hpp"
#include "tensor/tensor.hpp"
#include "tests/distributed/world.hpp"

using namespace mttt;
using namespace mttt::distributed;

using test::world;

TEST_CASE("gradient buckets group parameters in reverse order up to the byte limit, one dtype per bucket") {
  std::vector<Tensor> params = {zeros({10}), zeros({20}), zeros({5}, {DType::float64}), zeros({30}), zeros({3})};
  nn::GradientBuckets buckets(params, world(), 30 * 4);  // 30 floats
  const auto& b = buckets.buckets();
  REQUIRE(b.size() == 4);
  CHECK(b[0].members == std::vector<std::size_t>{4});     // 3 floats; 30 more would pass the limit
  CHECK(b[1].members == std::vector<std::size_t>{3});     // 30 floats
  CHECK(b[2].members == std::vector<std::size_t>{2});     // float64 apart
  CHECK(b[3].members == std::vector<std::size_t>{1, 0});  // 20 + 10 floats
  CHECK(b[3].offsets == std::vector<std::int64_t>{0, 20});
  CHECK(buckets.bytes_per_step() == (3 + 30 + 20 + 10 + 4) * 4 + (5 + 1) * 8);  // and a flag per parameter
}

TEST_CASE("gradient buckets average every gradient over the ranks") {
  const int rank = world().rank(), ranks = world().size();
  std::vector<Tensor> params = {zeros({4, 5}), zeros({7}), zeros({2, 3}, {DType::float64}), zeros({6}), zeros({2})};
  for (auto& p : params) p.requires_grad_();
  // Parameter k's gradient on rank r: (r + 1) * (k + 1) everywhere; parameter 3 only on rank 1;
  // parameter 4 on no rank.
  for (std::size_t k = 0; k < 3; ++k)
    params[k].set_grad(full(params[k].shape(), (rank + 1.0) * (k + 1.0), {params[k].dtype()}));
  if (rank == 1) params[3].set_grad(full({6}, 8.0));
  nn::GradientBuckets buckets(params, world(), 32);  // small buckets: several in flight
  buckets.average();
  const double mean_rank_factor = (ranks + 1) / 2.0;  // mean of (r + 1)
  for (std::size_t k = 0; k < 3; ++k) {
    CAPTURE(k);
    CHECK(max(abs(cast(params[k].grad(), DType::float64) - mean_rank_factor * (k + 1.0))).item() < 1e-6);
  }
  if (ranks > 1) {
    REQUIRE(params[3].grad().defined());
    CHECK(params[3].grad().to_vector<float>() == std::vector<float>(6, 8.0f / static_cast<float>(ranks)));
  }
  CHECK_FALSE(params[4].grad().defined());
}

TEST_CASE("gradient buckets reduce while the backward sweep goes on, to the same averages") {
  const int rank = world().rank();
  Generator generator(7);  // the same parameters on every rank
  std::vector<Tensor> params;
  for (int k = 0; k < 6; ++k) params.push_back(normal({8, 8}, 0, 0.5, {DType::float64}, &generator).requires_grad_());
  Tensor unused = zeros({3}, {DType::float64}).requires_grad_();
  params.push_back(unused);
  // A chain through the six matrices on rank-dependent data: the deepest parameter is final first.
  Generator data(static_cast<std::uint64_t>(100 + rank));
  const Tensor x = normal({4, 8}, 0, 1, {DType::float64}, &data);
  auto loss_of = [&](const std::vector<Tensor>& p) {
    Tensor h = x;
    for (int k = 0; k < 6; ++k) h = tanh(matmul(h, p[static_cast<std::size_t>(k)]));
    return sum(h * h);
  };
  // Reference: this rank's plain gradients, averaged by hand over the ranks.
  std::vector<Tensor> expected;
  {
    std::vector<Tensor> copies;
    for (int k = 0; k < 6; ++k) copies.push_back(params[static_cast<std::size_t>(k)].detach().requires_grad_());
    loss_of(copies).backward();
    for (auto& c : copies) {
      Tensor g = contiguous(c.grad() * 1.0);
      world().all_reduce(g, Reduction::average);
      expected.push_back(g);
    }
  }
  nn::GradientBuckets buckets(params, world(), 2 * 8 * 8 * 8);  // two matrices a bucket
  buckets.backward(loss_of(params));
  for (int k = 0; k < 6; ++k) {
    CAPTURE(k);
    CHECK(max(abs(params[static_cast<std::size_t>(k)].grad() - expected[static_cast<std::size_t>(k)])).item() < 1e-14);
  }
  CHECK_FALSE(unused.grad().defined());
}
