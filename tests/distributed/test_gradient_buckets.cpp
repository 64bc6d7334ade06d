// Gradient buckets (nn/distributed/): every rank's gradients become their average, across bucket
// boundaries, with a parameter unused on some ranks counted as zeros there.
#include <catch2/catch.hpp>

#include "nn/distributed/gradient_buckets.hpp"
#include "tensor/tensor.hpp"

using namespace mttt;
using namespace mttt::distributed;

namespace {
Communicator& world() {
  static std::unique_ptr<Communicator> c = default_communicator();
  return *c;
}
}  // namespace

TEST_CASE("gradient buckets group parameters in reverse order up to the byte limit, one dtype per bucket") {
  std::vector<Tensor> params = {zeros({10}), zeros({20}), zeros({5}, {DType::float64}), zeros({30}), zeros({3})};
  nn::GradientBuckets buckets(params, 30 * 4);  // 30 floats
  const auto& b = buckets.buckets();
  REQUIRE(b.size() == 4);
  CHECK(b[0].members == std::vector<std::size_t>{4});     // 3 floats; 30 more would pass the limit
  CHECK(b[1].members == std::vector<std::size_t>{3});     // 30 floats
  CHECK(b[2].members == std::vector<std::size_t>{2});     // float64 apart
  CHECK(b[3].members == std::vector<std::size_t>{1, 0});  // 20 + 10 floats
  CHECK(b[3].offsets == std::vector<std::int64_t>{0, 20});
  CHECK(buckets.bytes_per_step() == (3 + 30 + 20 + 10) * 4 + 5 * 8);
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
  nn::GradientBuckets buckets(params, 32);  // small buckets: several in flight
  buckets.average(world());
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
