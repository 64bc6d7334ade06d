// The sections of the foundation benchmark (issue 2), one file each:
//   gemm_bench.cpp     float32 GEMM and the batched per-head products, next to OpenBLAS
//   fusion_bench.cpp   gelu(a * b + c) fused vs op by op, forward and forward plus backward
//   tape_bench.cpp     tape overhead per node on a long chain of one-element ops
//   reduce_bench.cpp   the sums of the MTTT layer's backward, cache-warm and from memory
#pragma once

#include "tools/bench/bench_util.hpp"

namespace mttt::bench {

SectionResult run_gemm(const Options& options);
SectionResult run_batched(const Options& options);
SectionResult run_fusion(const Options& options);
SectionResult run_tape(const Options& options);
SectionResult run_reduce(const Options& options);

}  // namespace mttt::bench
