// Run-time switches of the tensor library.
//   threads        set_num_threads(n) or MTTT_NUM_THREADS; default: all cores
//   fusion         set_fusion_enabled(b) or MTTT_FUSION=0|1; default from the build option
//   deterministic  set_deterministic(b) or MTTT_DETERMINISTIC=1: reductions and scatters in a
//                  fixed order whatever the thread count (they already are; the switch also
//                  makes matmul split its work independently of the thread count)
#pragma once

#include <cstdint>

namespace mttt {

int num_threads();
void set_num_threads(int threads);

bool fusion_enabled();
void set_fusion_enabled(bool enabled);

bool deterministic();
void set_deterministic(bool enabled);

// Below this many elements a kernel runs on the calling thread: opening a parallel region
// costs about a microsecond.
inline constexpr std::int64_t kParallelThreshold = 32768;

class FusionScope {
 public:
  explicit FusionScope(bool enabled);
  ~FusionScope();
  FusionScope(const FusionScope&) = delete;
  FusionScope& operator=(const FusionScope&) = delete;

 private:
  bool previous_;
};

}  // namespace mttt
