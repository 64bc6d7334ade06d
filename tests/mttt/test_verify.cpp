// The equivalence checks of `mttt verify` hold at several shapes, head counts and seeds.
#include <catch2/catch.hpp>

#include "mttt/verify.hpp"

using namespace mttt::ttt;

TEST_CASE("mttt verify: every row holds at several shapes, head counts and seeds") {
  for (auto [shape, seed] : {std::pair{VerifyShape{2, 8, 12, 3}, 0ULL}, std::pair{VerifyShape{1, 4, 8, 1}, 5ULL},
                             std::pair{VerifyShape{3, 8, 8, 2}, 9ULL}}) {
    auto rows = verify_equivalences(seed, shape);
    CHECK(rows.size() > 20);
    for (const auto& row : rows) {
      INFO(row.check << " " << row.dtype << " " << row.quantity << ": " << row.error << " > " << row.tolerance);
      CHECK(row.ok());
    }
  }
}
