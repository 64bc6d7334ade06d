// The communicators (tensor/distributed/): the single process's, and MPI's when this program runs
// under `mpirun -np 2` (tests/distributed/run_mpi.sh). Every rank runs every test case in the same
// order, so the collectives line up; values depend on the rank, so that results can be predicted.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>

#include "tensor/backend/backend.hpp"
#include "tensor/distributed/communicator.hpp"
#include "tensor/tensor.hpp"
#include "tests/distributed/world.hpp"

using namespace mttt;
using namespace mttt::distributed;

namespace {

Communicator& comm() { return test::world(); }

// x[i] = (rank + 1) * (i + 1) / 7, of `dtype` on `device`.
Tensor rank_values(std::int64_t n, DType dtype, Device device = kCPU) {
  Tensor i = arange(0, static_cast<double>(n), 1, {DType::float64});
  return to(cast((i + 1) * (static_cast<double>(comm().rank() + 1) / 7.0), dtype), device);
}

}  // namespace

TEST_CASE("the communicator is MPI's world under mpirun, the process alone otherwise") {
  const char* expected_size = std::getenv("MTTT_TEST_RANKS");
  if (expected_size && std::atoi(expected_size) > 1) {
    CHECK(comm().kind() == "mpi");
    CHECK(comm().size() == std::atoi(expected_size));
  } else {
    CHECK(comm().kind() == "single");
    CHECK(comm().size() == 1);
  }
  CHECK(comm().rank() >= 0);
  CHECK(comm().rank() < comm().size());
}

TEST_CASE("all_reduce sums and averages float32, float64 and int64 tensors of every size") {
  const int ranks = comm().size();
  const double rank_sum = ranks * (ranks + 1) / 2.0;  // sum of (rank + 1)
  for (DType dtype : {DType::float32, DType::float64}) {
    for (std::int64_t n : {1, 1000, 300000}) {
      CAPTURE(to_string(dtype), n);
      Tensor sum = rank_values(n, dtype), average = rank_values(n, dtype);
      comm().all_reduce(sum, Reduction::sum);
      comm().all_reduce(average, Reduction::average);
      Tensor i = arange(0, static_cast<double>(n), 1, {DType::float64}) + 1;
      const double tolerance = dtype == DType::float32 ? 1e-6 : 1e-14;
      CHECK(max(abs(cast(sum, DType::float64) - i * (rank_sum / 7.0)) / (i * (rank_sum / 7.0))).item() < tolerance);
      CHECK(max(abs(cast(average, DType::float64) - i * (rank_sum / ranks / 7.0)) / i).item() < tolerance);
    }
  }
  Tensor counts = full({3}, static_cast<double>(comm().rank() + 1), {DType::int64});
  comm().all_reduce(counts);
  CHECK(counts.to_vector<std::int64_t>() == std::vector<std::int64_t>(3, static_cast<std::int64_t>(rank_sum)));
}

TEST_CASE("asynchronous all_reduces complete in any order of waiting") {
  Tensor a = rank_values(5000, DType::float32), b = rank_values(7, DType::float64);
  auto first = comm().all_reduce_async(a, Reduction::sum);
  auto second = comm().all_reduce_async(b, Reduction::average);
  second->wait();
  first->wait();
  first->wait();  // waiting twice is harmless
  const double rank_sum = comm().size() * (comm().size() + 1) / 2.0;
  CHECK(std::abs(a.to_vector<float>()[4999] - static_cast<float>(5000 * rank_sum / 7.0)) < 1e-3);
  CHECK(std::abs(b.to_vector<double>()[0] - rank_sum / comm().size() / 7.0) < 1e-15);
}

TEST_CASE("in deterministic mode every rank holds the same bits, the rank-order sum") {
  set_deterministic(true);
  Generator generator(static_cast<std::uint64_t>(comm().rank()));
  Tensor reduced = normal({4096}, 0, 1, {DType::float32}, &generator);
  comm().all_reduce(reduced);
  set_deterministic(false);
  // Every rank's reduced bytes must equal rank 0's.
  const auto values = reduced.to_vector<float>();
  const std::string bytes(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  for (const std::string& other : comm().all_gather(bytes)) CHECK(other == bytes);
}

TEST_CASE("broadcast gives every rank the root's tensor") {
  const int root = comm().size() - 1;
  Tensor t = rank_values(100, DType::float64);
  comm().broadcast(t, root);
  CHECK(t.to_vector<double>()[99] == Approx(100.0 * (root + 1) / 7.0));
  CHECK_THROWS_WITH(comm().broadcast(t, comm().size()), Catch::Contains("is not a rank"));
}

TEST_CASE("tensors of the thrust-host device reduce through MPI like CPU tensors") {
  if (thrust_host_backend() == nullptr) return;  // a build without CCCL's headers
  Tensor t = rank_values(64, DType::float32, {DeviceType::thrust_host, 0});
  comm().all_reduce(t, Reduction::sum);
  const double rank_sum = comm().size() * (comm().size() + 1) / 2.0;
  CHECK(t.device().type == DeviceType::thrust_host);
  CHECK(t.to_vector<float>()[63] == Approx(64 * rank_sum / 7.0));
}

TEST_CASE("all_gather returns every rank's bytes in rank order, lengths differing") {
  const auto values = comm().all_gather(std::string(static_cast<std::size_t>(comm().rank() + 1), 'a' + comm().rank()));
  REQUIRE(static_cast<int>(values.size()) == comm().size());
  for (int r = 0; r < comm().size(); ++r) CHECK(values[static_cast<std::size_t>(r)] == std::string(r + 1, 'a' + r));
  comm().barrier();
}

TEST_CASE("require_agreement passes on agreement and names the ranks that differ") {
  require_agreement(comm(), "the config's fingerprint", "abc");
  if (comm().size() == 1) return;
  const std::string value = comm().rank() == 0 ? "cafe" : "beef";
  CHECK_THROWS_WITH(require_agreement(comm(), "the config's fingerprint", value),
                    Catch::Contains("the ranks disagree on the config's fingerprint: rank 0 has cafe; rank 1 has beef"));
}

TEST_CASE("collectives refuse tensors they cannot take, naming the operation") {
  Tensor strided = transpose(zeros({3, 4}), 0, 1);
  CHECK_THROWS_WITH(comm().all_reduce(strided), Catch::Contains("[all_reduce]") && Catch::Contains("not contiguous"));
  CHECK_THROWS_WITH(comm().all_reduce(Tensor()), Catch::Contains("undefined"));
}
