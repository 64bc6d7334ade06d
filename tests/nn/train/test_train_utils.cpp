// Configs with overrides, metrics logs and the progress line's formatting.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "nn/train/config_overrides.hpp"
#include "nn/train/metrics_log.hpp"
#include "nn/train/progress.hpp"

using namespace mttt::nn;
using nlohmann::json;

TEST_CASE("configs merge with their defaults and reject unknown keys, naming the valid ones") {
  json defaults = {{"optim", {{"lr", 0.001}, {"schedule", "cosine"}}}, {"seed", 0}};
  json merged = merge_with_defaults(json{{"optim", {{"lr", 0.01}}}}, defaults, "run.json");
  CHECK(merged["optim"]["lr"] == 0.01);
  CHECK(merged["optim"]["schedule"] == "cosine");
  CHECK(merged["seed"] == 0);
  REQUIRE_THROWS_WITH(merge_with_defaults(json{{"optim", {{"learning_rate", 1}}}}, defaults, "run.json"),
                      Catch::Contains("run.json") && Catch::Contains("optim.learning_rate") &&
                          Catch::Contains("lr, schedule"));
  REQUIRE_THROWS_WITH(merge_with_defaults(json{{"optim", 3}}, defaults, "run.json"), Catch::Contains("must be an object"));
}

TEST_CASE("overrides set nested values, parsed as JSON where they are JSON") {
  json config = {{"optim", {{"lr", 0.001}, {"schedule", "cosine"}, {"betas", {0.9, 0.999}}}}, {"seed", 0}};
  apply_override(config, "optim.lr=0.5");
  apply_override(config, "optim.schedule=linear");
  apply_override(config, "optim.betas=[0.8,0.9]");
  apply_override(config, "seed=7");
  CHECK(config["optim"]["lr"] == 0.5);
  CHECK(config["optim"]["schedule"] == "linear");
  CHECK(config["optim"]["betas"][0] == 0.8);
  CHECK(config["seed"] == 7);
  REQUIRE_THROWS_WITH(apply_override(config, "optim.momentum=0.9"), Catch::Contains("optim.momentum") &&
                                                                          Catch::Contains("valid keys under 'optim'"));
  REQUIRE_THROWS_WITH(apply_override(config, "nonsense"), Catch::Contains("key=value"));
  REQUIRE_THROWS_WITH(apply_override(config, "optim=3"), Catch::Contains("is a section"));
}

TEST_CASE("metrics logs are JSON lines that read back") {
  auto path = (std::filesystem::temp_directory_path() / "mttt_metrics_test.jsonl").string();
  {
    MetricsLog log(path, false);
    log.write({{"step", 1}, {"loss", 2.5}});
    log.write({{"step", 2}, {"loss", 2.0}});
  }
  {
    MetricsLog log(path, true);
    log.write({{"epoch", 1}, {"accuracy", 0.5}});
  }
  auto records = read_metrics(path);
  REQUIRE(records.size() == 3);
  CHECK(records[1]["loss"] == 2.0);
  CHECK(records[2]["accuracy"] == 0.5);
}

TEST_CASE("a truncated last record is skipped by the reader and dropped by the resume repair; other damage is named") {
  auto path = (std::filesystem::temp_directory_path() / "mttt_metrics_truncated.jsonl").string();
  std::ofstream(path) << R"({"step":1,"loss":2.5})" << '\n' << R"({"step":2,"loss":2.0})" << '\n' << R"({"step":3,"lo)";
  auto records = read_metrics(path);
  REQUIRE(records.size() == 2);
  CHECK(records[1]["step"] == 2);
  MetricsRepair repair = repair_metrics(path, 1);
  CHECK(repair.truncated_line);
  CHECK(repair.dropped == 1);
  records = read_metrics(path);
  REQUIRE(records.size() == 1);
  {
    MetricsLog log(path, true);  // appends onto a whole line
    log.write({{"step", 2}, {"loss", 1.0}});
  }
  CHECK(read_metrics(path).size() == 2);
  std::ofstream(path) << R"({"step":1)" << '\n' << R"({"step":2})" << '\n';
  REQUIRE_THROWS_WITH(read_metrics(path), Catch::Contains(path + ":1"));
  REQUIRE_THROWS_WITH(repair_metrics(path, 5), Catch::Contains(path + ":1"));
}

TEST_CASE("a failed metrics write throws naming the file and the system's error") {
  MetricsLog log("/dev/full", true);
  REQUIRE_THROWS_WITH(log.write({{"step", 1}}), Catch::Contains("/dev/full") && Catch::Contains("No space left"));
  REQUIRE_THROWS_WITH(MetricsLog("/nonexistent-folder/metrics.jsonl", false),
                      Catch::Contains("/nonexistent-folder/metrics.jsonl") && Catch::Contains("No such file"));
}

TEST_CASE("durations read as a person writes them") {
  CHECK(ProgressLine::format_duration(42) == "42s");
  CHECK(ProgressLine::format_duration(125) == "2m05s");
  CHECK(ProgressLine::format_duration(3725) == "1h02m");
  CHECK(ProgressLine::format_duration(-1) == "?");
}
