// The op table (op_table.hpp) against the public ops headers, and the finite-difference checks it
// drives: orders 1 and 2, float64, every differentiable op as made, non-contiguous and broadcast.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "tests/ops/op_table.hpp"

using namespace mttt;
using namespace test::ops;

namespace {

// name -> family of every function declared in tensor/ops/*.hpp (templates included; the
// operators are other names of add, sub, mul, div and neg).
std::multimap<std::string, std::string> declared_ops() {
  const char* root = std::getenv("MTTT_SOURCE_ROOT");
  REQUIRE(root != nullptr);
  const std::regex declaration(R"(^(?:template <.*> )?(?:Tensor|bool|void|std::vector<Tensor>) (\w+)\()");
  std::multimap<std::string, std::string> ops;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(root) / "tensor" / "ops")) {
    if (entry.path().extension() != ".hpp") continue;
    std::ifstream in(entry.path());
    std::set<std::string> names;  // overloads count once
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (std::regex_search(line, m, declaration)) names.insert(m[1]);
    }
    for (const std::string& name : names) ops.emplace(name, entry.path().stem().string());
  }
  return ops;
}

}  // namespace

TEST_CASE("op table: every op of the public ops headers has one row, in its family, and no row is stale") {
  const auto declared = declared_ops();
  REQUIRE(declared.size() > 50);
  std::map<std::string, std::string> rows;
  for (const OpRow& row : op_table()) {
    INFO("row " << row.name);
    CHECK(rows.emplace(row.name, row.family).second);  // one row per op
  }
  for (const auto& [name, family] : declared) {
    INFO(name << " is declared in tensor/ops/" << family << ".hpp but has no row in tests/ops/op_table.cpp");
    REQUIRE(rows.count(name) == 1);
    CHECK(rows[name] == family);
  }
  for (const auto& [name, family] : rows) {
    INFO("row " << name << " names no op of tensor/ops/" << family << ".hpp");
    CHECK(declared.count(name) == 1);
  }
}

TEST_CASE("op table: rows are well formed") {
  for (const OpRow& row : op_table()) {
    INFO("row " << row.name);
    CHECK((row.native == kComposed) == row.kernel.empty());
    CHECK(row.native <= (kCpuKernel | kThrustKernel));
    if (is_fused(row)) CHECK(row.order >= 2);  // the composite default must serve a second-order rule
    const auto all = variants(row);
    CHECK(all.size() >= 2);
    if (row.order == 0) {
      // Not recorded even when its inputs require grad: the row's order is the op's, not a way
      // around the gradchecks.
      Inputs leaves;
      for (const Tensor& x : all[0].inputs) leaves.push_back(x.detach().requires_grad_());
      CHECK_FALSE(all[0].f(leaves).requires_grad());
    }
    if (row.order >= 1) {
      REQUIRE(all.size() == 3);  // as made, non-contiguous, broadcast
      for (const Variant& v : all)
        for (const Tensor& x : v.inputs) CHECK(x.dtype() == DType::float64);
      CHECK(all[0].f(all[0].inputs).dtype() == DType::float64);
    }
  }
}

// Order 3 as well, as made, where the op is differentiable to it: a rule with a one-pass road for
// sweeps that record nothing (layer_norm_backward's) is differentiated through its other road,
// the composite, only from there. That road's values are held to the kernel by
// ops_composite_kernels (the composite is also the kernel's default).
TEST_CASE("op table: gradcheck of every differentiable op, orders 1, 2 (as made, non-contiguous, broadcast) and 3") {
  int checked = 0;
  for (const OpRow& row : op_table()) {
    if (row.order < 1) continue;
    INFO("row " << row.name);
    for (const Variant& v : variants(row)) {
      const int highest = std::min(row.order, v.label == "as made" ? 3 : 2);
      for (int order = 1; order <= highest; ++order) {
        GradcheckResult r = gradcheck(v.f, v.inputs, {.order = order, .eps = row.eps});
        INFO(row.name << ", " << v.label << ", order " << order << ": " << r.message);
        CHECK(r.ok);
        ++checked;
      }
    }
  }
  CHECK(checked >= 350);
}

TEST_CASE("op table: each variant's gradcheck fails on a wrong derivative") {
  // x * detach(x) has derivative x where finite differences see 2x: every variant must report it.
  OpRow row = op_table().front();
  row.differentiable = -1;
  row.f = [](const Inputs& v) { return v[0] * v[0].detach() + v[1]; };
  for (const Variant& v : variants(row)) {
    INFO(v.label);
    CHECK_FALSE(gradcheck(v.f, v.inputs).ok);
  }
}
