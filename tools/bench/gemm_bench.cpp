// float32 matrix products: mttt's matmul against OpenBLAS cblas_sgemm in the same process, on
// the same operands. mttt threads with OpenMP around single-threaded OpenBLAS calls; the
// reference is OpenBLAS threading itself (openblas_set_num_threads), which is what a user of
// plain BLAS would get. OpenBLAS is put back to one thread afterwards: the library's kernels
// rely on it (tensor/runtime.cpp).
#include <cblas.h>

#include <cmath>
#include <vector>

#include "tensor/tensor.hpp"
#include "tools/bench/sections.hpp"

namespace mttt::bench {

namespace {

struct GemmShape {
  std::int64_t m, k, n;
  std::string name() const { return fmt::format("{}x{}x{}", m, k, n); }
};

// Restores both thread settings whatever happens in between.
class ThreadGuard {
 public:
  ThreadGuard() : threads_(num_threads()) {}
  ~ThreadGuard() {
    set_num_threads(threads_);
    openblas_set_num_threads(1);
  }
  ThreadGuard(const ThreadGuard&) = delete;
  ThreadGuard& operator=(const ThreadGuard&) = delete;

 private:
  int threads_;
};

double gflops(double flops, double seconds) { return seconds > 0 ? flops / seconds * 1e-9 : 0; }

// Largest |x - y| relative to the largest |y|: a wrong kernel would not go unnoticed.
double relative_difference(const Tensor& ours, const std::vector<float>& reference) {
  std::vector<float> x = ours.to_vector<float>();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, std::abs(double(x[i]) - reference[i]));
    scale = std::max(scale, std::abs(double(reference[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

struct Row {
  std::string shape;
  int threads;
  double flops;
  Timing ours, blas;
  double difference;
};

void add_row(Table& table, nlohmann::json& rows, const Row& row) {
  const double g_ours = gflops(row.flops, row.ours.median), g_blas = gflops(row.flops, row.blas.median);
  const double ratio = g_blas > 0 ? g_ours / g_blas : 0;
  table.add({row.shape, std::to_string(row.threads), fmt::format("{:.1f}", g_ours),
             fmt::format("{:.1f}", gflops(row.flops, row.ours.min)), fmt::format("{:.1f}", g_blas),
             fmt::format("{:.1f}", gflops(row.flops, row.blas.min)), fmt::format("{:.1f}%", 100 * ratio),
             ratio >= 0.9 ? "yes" : "NO"});
  rows.push_back({{"shape", row.shape},
                  {"threads", row.threads},
                  {"flops", row.flops},
                  {"ours_gflops_median", g_ours},
                  {"ours_gflops_best", gflops(row.flops, row.ours.min)},
                  {"openblas_gflops_median", g_blas},
                  {"openblas_gflops_best", gflops(row.flops, row.blas.min)},
                  {"ratio_median", ratio},
                  {"target_met", ratio >= 0.9},
                  {"max_relative_difference", row.difference},
                  {"ours", row.ours.to_json()},
                  {"openblas", row.blas.to_json()}});
}

Table gemm_table() {
  return Table({"shape (m x k x n)", "threads", "ours GFLOP/s", "(best)", "OpenBLAS GFLOP/s", "(best)", "ours/OpenBLAS",
                ">= 90%"});
}

}  // namespace

SectionResult run_gemm(const Options& options) {
  NoGrad no_grad;
  ThreadGuard guard;
  const std::vector<GemmShape> shapes{{1024, 1024, 1024}, {2048, 2048, 2048}, {12544, 384, 1536}, {12544, 1536, 384}};
  Table table = gemm_table();
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& s : shapes) {
    Tensor a = uniform({s.m, s.k}, -1, 1), b = uniform({s.k, s.n}, -1, 1);
    const Tensor da = to(a, options.device), db = to(b, options.device);
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
    const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
    for (int t : options.threads) {
      set_num_threads(t);
      openblas_set_num_threads(1);
      Tensor out;
      // Allocation of the output is part of ours (it comes from the caching pool).
      Timing ours = measure(options, [&] {
        out = matmul(da, db);
        synchronize(current_stream(options.device));
      });
      openblas_set_num_threads(t);
      Timing blas = measure(options, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0f, pa, s.k, pb, s.n, 0.0f, c.data(), s.n);
      });
      openblas_set_num_threads(1);
      add_row(table, rows, {s.name(), t, flops, ours, blas, relative_difference(out, c)});
    }
  }
  return {"float32 GEMM: mttt matmul on " + to_string(options.device) +
              " vs OpenBLAS cblas_sgemm (GFLOP/s = 2mnk / median time)",
          table.str(),
          {{"rows", rows}}};
}

SectionResult run_batched(const Options& options) {
  NoGrad no_grad;
  ThreadGuard guard;
  // The MTTT layer's per-head products at batch 8 with 3 heads: 24 x (196 x 64) @ (64 x 64).
  constexpr std::int64_t batch = 24, m = 196, k = 64, n = 64;
  Tensor a = uniform({batch, m, k}, -1, 1), b = uniform({batch, k, n}, -1, 1);
  const Tensor da = to(a, options.device), db = to(b, options.device);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  std::vector<float> c(static_cast<std::size_t>(batch * m * n));
  const double flops = 2.0 * double(batch) * double(m) * double(n) * double(k);
  Table table = gemm_table();
  nlohmann::json rows = nlohmann::json::array();
  for (int t : options.threads) {
    set_num_threads(t);
    openblas_set_num_threads(1);
    Tensor out;
    Timing ours = measure(options, [&] {
      out = matmul(da, db);
      synchronize(current_stream(options.device));
    });
    openblas_set_num_threads(t);
    Timing blas = measure(options, [&] {
      for (std::int64_t i = 0; i < batch; ++i)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, pa + i * m * k, k, pb + i * k * n, n, 0.0f,
                    c.data() + i * m * n, n);
    });
    openblas_set_num_threads(1);
    add_row(table, rows, {fmt::format("{} x {}x{}x{}", batch, m, k, n), t, flops, ours, blas, relative_difference(out, c)});
  }
  return {"Batched per-head products: one mttt matmul call on " + to_string(options.device) +
              " vs a loop of 24 cblas_sgemm calls",
          table.str(),
          {{"rows", rows}}};
}

}  // namespace mttt::bench
