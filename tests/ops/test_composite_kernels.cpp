// Backend's composite defaults for the fused kernels (tensor/backend/composite.cpp), run through a
// backend that has no fused kernel of its own (tests/tensor/composite_backend.hpp) installed for
// the CPU device: every fused row of the op table against the CPU backend's hand-written kernels
// (values, one-pass first-order gradients, second-order gradients; float64 to 1e-12 relative),
// and its finite-difference checks at orders 1 and 2, as made, non-contiguous and broadcast. The
// composite is also layer_norm_backward's rule under create_graph: this holds that road too.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "tests/ops/op_table.hpp"
#include "tests/tensor/composite_backend.hpp"

using namespace mttt;
using namespace test::ops;
using test::CompositeKernels;

namespace {

// max |a - b| / max(1, max |b|) <= tolerance, NaN where b has NaN.
void check_close(const Tensor& a, const Tensor& b, double tolerance) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double scale = 1, worst = 0;
  for (double v : y)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("element " << i << ": " << x[i] << " against " << y[i]);
    REQUIRE(std::isnan(x[i]) == std::isnan(y[i]));
    if (std::isinf(y[i])) CHECK(x[i] == y[i]);
    else if (!std::isnan(y[i])) worst = std::max(worst, std::abs(x[i] - y[i]));
  }
  INFO("max difference " << worst << " at scale " << scale);
  CHECK(worst / scale <= tolerance);
}

std::vector<const OpRow*> fused_rows() {
  std::vector<const OpRow*> rows;
  for (const OpRow& row : op_table())
    if (is_fused(row)) rows.push_back(&row);
  return rows;
}

}  // namespace

TEST_CASE("composite defaults: every fused op agrees with the CPU kernels, values and derivatives") {
  CompositeKernels composite;
  REQUIRE(fused_rows().size() == 4);  // softmax, log_softmax, layer_norm, layer_norm_backward
  for (const OpRow* row : fused_rows()) {
    // Computed before the substitution (every tensor made in its scope, intermediate results
    // too, belongs to the substitute): the CPU's kernels.
    std::vector<std::vector<Tensor>> want;
    for (const Variant& v : variants(*row)) want.push_back(derivatives(v, 2));
    BackendSubstitution scope(DeviceType::cpu, composite);
    const auto through_defaults = variants(*row);
    REQUIRE(through_defaults.size() == want.size());
    for (std::size_t k = 0; k < want.size(); ++k) {
      const auto got = derivatives(through_defaults[k], 2);
      REQUIRE(got.size() == want[k].size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        INFO(row->name << ", " << through_defaults[k].label << ", result " << i);
        check_close(got[i], want[k][i], 1e-12);
      }
    }
  }
  // Every fused kernel was served by its default, the vjp kernel by the first-order sweeps.
  for (auto k : {CompositeKernels::softmax_kernel, CompositeKernels::layer_norm_kernel,
                 CompositeKernels::layer_norm_backward_kernel, CompositeKernels::layer_norm_backward_vjp_kernel}) {
    INFO("kernel " << k);
    CHECK(composite.calls(k) > 0);
  }
}

TEST_CASE("composite defaults: float32, rows without a finite maximum, and the vjp's single outputs") {
  CompositeKernels composite;
  const double inf = std::numeric_limits<double>::infinity();
  Generator g(3);
  const Tensor x32 = uniform({5, 7}, -2, 2, {DType::float32}, &g), s32 = uniform({7}, -1, 1, {DType::float32}, &g);
  const Tensor edge = from_vector(std::vector<double>{-inf, -inf, -inf, 1, inf, 2, 0.5, -inf, 3}, Shape{3, 3});
  const std::vector<Tensor> want = {softmax(x32, 0), log_softmax(x32), layer_norm(x32, s32, s32),
                                    layer_norm_backward(x32, x32 * 2.0), softmax(edge), log_softmax(edge)};
  BackendSubstitution scope(DeviceType::cpu, composite);
  auto fresh = [](const Tensor& t) { return from_vector(t.to_vector<double>(), t.shape(), {t.dtype()}); };
  const Tensor y32 = fresh(x32), t32 = fresh(s32), e = fresh(edge);
  const std::vector<Tensor> got = {softmax(y32, 0), log_softmax(y32), layer_norm(y32, t32, t32),
                                   layer_norm_backward(y32, y32 * 2.0), softmax(e), log_softmax(e)};
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("result " << i);
    check_close(got[i], want[i], i < 4 ? 2e-6 : 1e-15);
  }
  // The vjp's outputs one at a time (a rule that needs one input's cotangent asks for one).
  Tensor x = from_vector(std::vector<double>{0.3, -1, 2, 0.1, 0.7, -0.2}, Shape{2, 3}), gy = x * x, u = x - 0.5;
  auto out = [&] { return Tensor::empty(x.shape(), DType::float64, kCPU); };
  Tensor both_x = out(), both_gy = out(), only_x = out(), only_gy = out();
  composite.layer_norm_backward_vjp(x, gy, u, 1e-5, both_x, both_gy);
  composite.layer_norm_backward_vjp(x, gy, u, 1e-5, only_x, Tensor());
  composite.layer_norm_backward_vjp(x, gy, u, 1e-5, Tensor(), only_gy);
  check_close(only_x, both_x, 0);
  check_close(only_gy, both_gy, 0);
}

TEST_CASE("composite defaults: gradcheck orders 1 and 2 of every fused op, as made, non-contiguous and broadcast") {
  CompositeKernels composite;
  BackendSubstitution scope(DeviceType::cpu, composite);
  for (const OpRow* row : fused_rows()) {
    for (const Variant& v : variants(*row)) {
      for (int order = 1; order <= 2; ++order) {
        GradcheckResult r = gradcheck(v.f, v.inputs, {.order = order, .eps = row->eps});
        INFO(row->name << ", " << v.label << ", order " << order << ": " << r.message);
        CHECK(r.ok);
      }
    }
  }
  CHECK(composite.calls(CompositeKernels::layer_norm_backward_kernel) > 0);
}
