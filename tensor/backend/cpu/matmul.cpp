// Matrix products on OpenBLAS (single-threaded; see runtime.cpp). Threads come from OpenMP:
// a batch of products runs one product per thread; a single large product is split into row
// (or column) panels, one sgemm per panel. Views whose last two axes have a unit stride are
// passed to BLAS as they are (transposed if need be), anything else is copied first.
#include <cblas.h>

#include <algorithm>

#include "tensor/backend/cpu/cpu_backend.hpp"
#include "tensor/backend/cpu/strided.hpp"
#include "tensor/runtime.hpp"

namespace mttt {

namespace {

struct Operand {
  Tensor view;  // the operand, or a contiguous copy of it
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  std::int64_t ld = 0;
};

Operand prepare(CpuBackend& backend, const Tensor& t) {
  const int r = t.rank();
  const std::int64_t rows = t.shape()[r - 2], cols = t.shape()[r - 1];
  const std::int64_t s0 = t.strides()[r - 2], s1 = t.strides()[r - 1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<std::int64_t>(cols, 1)) return {t, CblasNoTrans, s0};
  if ((s0 == 1 || rows == 1) && s1 >= std::max<std::int64_t>(rows, 1)) return {t, CblasTrans, s1};
  if (rows == 1 && cols == 1) return {t, CblasNoTrans, 1};
  // Not a BLAS layout (broadcast inside the matrix, or a general stride): copy.
  Tensor copy = Tensor::empty(t.shape(), t.dtype(), t.device());
  backend.copy(t, copy);
  return {copy, CblasNoTrans, std::max<std::int64_t>(cols, 1)};
}

void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
          std::int64_t lda, const float* b, std::int64_t ldb, float* c, std::int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::int64_t m, std::int64_t n, std::int64_t k, const double* a,
          std::int64_t lda, const double* b, std::int64_t ldb, double* c, std::int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

template <class T> void run(CpuBackend& backend, const Tensor& a_in, const Tensor& b_in, const Tensor& out) {
  const int r = out.rank();
  const std::int64_t m = out.shape()[r - 2], n = out.shape()[r - 1], k = a_in.shape()[r - 1];
  T* c = out.data<T>();
  if (out.numel() == 0) return;
  if (k == 0) {
    std::fill_n(c, out.numel(), T(0));
    return;
  }
  Operand a = prepare(backend, a_in), b = prepare(backend, b_in);
  Shape batch = out.shape();
  batch.erase(r - 1);
  batch.erase(r - 2);
  Strides a_batch = a.view.strides(), b_batch = b.view.strides();
  a_batch.erase(r - 1), a_batch.erase(r - 2), b_batch.erase(r - 1), b_batch.erase(r - 2);
  const std::int64_t count = numel(batch);
  const T* a_data = a.view.template data<T>();
  const T* b_data = b.view.template data<T>();
  const int threads = num_threads();
  const double flops = 2.0 * double(m) * double(n) * double(k) * double(count);
  const bool parallel = threads > 1 && flops > 2e5;

  // A row offset into A for panel splits.
  auto a_row = [&](std::int64_t row) { return a.trans == CblasNoTrans ? row * a.ld : row; };
  auto b_col = [&](std::int64_t col) { return b.trans == CblasNoTrans ? col : col * b.ld; };

  // Deterministic mode splits the work the same way for any thread count: the split, not
  // the threads, decides the order of BLAS's sums.
  constexpr std::int64_t kDeterministicPanels = 8;
  const bool whole_products = deterministic() ? count >= kDeterministicPanels || flops <= 2e5 : count >= threads || !parallel;
  if (whole_products) {
#pragma omp parallel if (parallel)
    {
      cpu::StridedWalk wa(batch, a_batch), wb(batch, b_batch);
#pragma omp for schedule(static)
      for (std::int64_t i = 0; i < count; ++i) {
        wa.seek(i);
        wb.seek(i);
        gemm(a.trans, b.trans, m, n, k, a_data + wa.offset(), a.ld, b_data + wb.offset(), b.ld, c + i * m * n, n);
      }
    }
    return;
  }
  // Few large products: panels.
  const std::int64_t panels = deterministic() ? kDeterministicPanels : threads;
  const bool by_rows = m >= n;
  const std::int64_t extent = by_rows ? m : n;
  const std::int64_t step = (extent + panels - 1) / panels;
  cpu::StridedWalk wa0(batch, a_batch), wb0(batch, b_batch);
  for (std::int64_t i = 0; i < count; ++i) {
    wa0.seek(i);
    wb0.seek(i);
    const T* ai = a_data + wa0.offset();
    const T* bi = b_data + wb0.offset();
    T* ci = c + i * m * n;
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t p = 0; p < panels; ++p) {
      const std::int64_t begin = p * step, size = std::min(step, extent - begin);
      if (size <= 0) continue;
      if (by_rows)
        gemm(a.trans, b.trans, size, n, k, ai + a_row(begin), a.ld, bi, b.ld, ci + begin * n, n);
      else
        gemm(a.trans, b.trans, m, size, k, ai, a.ld, bi + b_col(begin), b.ld, ci + begin, n);
    }
  }
}

}  // namespace

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  counters_.launch();
  gemm(a, b, out);
}

void CpuBackend::gemm(const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_floating(out.dtype(), "matmul", [&](auto zero) { run<decltype(zero)>(*this, a, b, out); });
}

}  // namespace mttt
