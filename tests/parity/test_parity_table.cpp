// Every op of the op table (tests/ops/op_table.hpp) on the device under test against the CPU
// backend: values, first-order gradients from a sweep that records nothing, and second-order
// gradients, as made, non-contiguous and broadcast (float64, to 1e-12 of the largest value).
// An op added to the table is checked here without another line.
#include "tests/ops/op_table.hpp"
#include "tests/parity/parity_check.hpp"

using namespace mttt;
using namespace mttt::parity;
using namespace test::ops;

TEST_CASE("parity: every op of the op table, values and derivatives to second order") {
  int compared = 0;
  for (const OpRow& row : op_table()) {
    const auto cpu = variants(row, kCPU), device = variants(row, kThrust);
    REQUIRE(cpu.size() == device.size());
    for (std::size_t k = 0; k < cpu.size(); ++k) {
      const int order = std::min(row.order, 2);
      const auto want = derivatives(cpu[k], order), got = derivatives(device[k], order);
      REQUIRE(want.size() == got.size());
      for (std::size_t i = 0; i < want.size(); ++i) {
        INFO(row.name << ", " << cpu[k].label << ", result " << i);
        check_same(got[i], want[i], want[i].dtype() == DType::int64 ? 0 : 1e-12);
        ++compared;
      }
    }
  }
  CHECK(compared >= 500);
}
