// `mttt verify`: every row holds at a middle size and at small shapes, head counts and seeds,
// on the CPU and on thrust-host; rows are chosen by name; bad shapes and names are errors; the
// command writes its table as JSON.
#include <catch2/catch.hpp>


#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "mttt/verify.hpp"
#include "tests/support.hpp"

using namespace mttt;
using namespace mttt::ttt;
using Catch::Matchers::Contains;

namespace {

void check_rows(const std::vector<VerifyRow>& rows) {
  for (const auto& row : rows) {
    INFO(row.group << " " << row.quantity << ": " << row.error << " > " << kToleranceMultiple << " x " << row.estimate);
    CHECK(row.estimate > 0);
    CHECK(row.ok());
  }
}

std::pair<int, std::string> run(const std::string& command) { return test::run_command(command); }

}  // namespace

TEST_CASE("mttt verify: every row holds at a middle size, each group reported before it runs") {
  VerifyOptions options{.shape = {4, 64, 96, 3}, .seed = 3};
  std::vector<std::string> started;
  options.on_group = [&](const std::string& group, std::size_t index, std::size_t count) {
    CHECK(index == started.size());
    CHECK(count == verify_groups().size());
    started.push_back(group);
  };
  auto rows = verify_equivalences(options);
  CHECK(started == verify_groups());
  // 2 x 10 (MTTT-Linear: output and 9 gradients) + 2 x 10 (kernel learner) + 3 x 2 (MLP).
  CHECK(rows.size() == 46);
  check_rows(rows);
}

TEST_CASE("mttt verify: every row holds at small shapes, head counts and seeds") {
  for (auto [shape, seed] : {std::pair{VerifyShape{2, 8, 12, 3}, 0ULL}, std::pair{VerifyShape{1, 4, 8, 1}, 5ULL},
                             std::pair{VerifyShape{3, 8, 8, 2}, 9ULL}}) {
    INFO("B " << shape.batch << ", N " << shape.tokens << ", D " << shape.width << ", H " << shape.heads);
    check_rows(verify_equivalences({.shape = shape, .seed = seed}));
  }
}

TEST_CASE("mttt verify: the same rows hold on thrust-host") {
  auto rows = verify_equivalences({.shape = {2, 16, 24, 2}, .seed = 1, .device = {DeviceType::thrust_host, 0}});
  CHECK(rows.size() == 46);
  check_rows(rows);
}

TEST_CASE("mttt verify: rows are chosen by name or by the prefix before '/'") {
  auto rows = verify_equivalences({.rows = {"mlp-t4-sgd", "self-attention/float32"}});
  std::set<std::string> groups;
  for (const auto& r : rows) groups.insert(r.group);
  CHECK(groups == std::set<std::string>{"self-attention/float32", "mlp-t4-sgd/inner", "mlp-t4-sgd/outer"});
  CHECK_THROWS_WITH(verify_equivalences({.rows = {"mlp-t4"}}),
                    Contains("[verify]") && Contains("'mlp-t4'") && Contains("mlp-t4-gd/inner"));
  CHECK_THROWS_WITH(verify_equivalences({.shape = {2, 8, 12, 5}}), Contains("[verify]") && Contains("divide"));
  CHECK_THROWS_WITH(verify_equivalences({.shape = {2, 6, 12, 3}}), Contains("[verify]") && Contains("mlp-t4-sgd"));
  // Without the SGD rows, N need not be divisible by 4.
  check_rows(verify_equivalences({.shape = {2, 6, 12, 3}, .rows = {"linear-attention", "mlp-t1"}}));
}

TEST_CASE("mttt verify (command): progress names the rows, --json writes the table, a bad row name exits 1") {
  const char* exe = std::getenv("MTTT_EXE");
  REQUIRE(exe != nullptr);
  const auto json_path = std::filesystem::temp_directory_path() / fmt::format("mttt_verify_{}.json", ::getpid());
  auto [status, output] =
      run(fmt::format("{} verify --batch 2 --tokens 8 --width 12 --heads 3 --rows mlp-t1,linear-attention/float32 "
                      "--json {}",
                      exe, json_path.string()));
  INFO(output);
  CHECK(status == 0);
  CHECK_THAT(output, Contains("verify [1/3] linear-attention/float32") && Contains("verify [3/3] mlp-t1/outer") &&
                         Contains("12 of 12 rows hold"));
  std::ifstream in(json_path);
  REQUIRE(in.good());
  auto doc = nlohmann::json::parse(in);
  std::filesystem::remove(json_path);
  CHECK(doc["ok"] == true);
  CHECK(doc["shape"]["tokens"] == 8);
  CHECK(doc["device"] == "cpu");
  REQUIRE(doc["rows"].size() == 12);
  CHECK(doc["rows"][0]["row"] == "linear-attention/float32");
  CHECK(doc["rows"][0]["tolerance"].get<double>() == kToleranceMultiple * doc["rows"][0]["estimate"].get<double>());
  auto [bad_status, bad_output] = run(fmt::format("{} verify --rows nonsense", exe));
  CHECK(bad_status == 1);
  CHECK_THAT(bad_output, Contains("no row is named 'nonsense'"));
}
