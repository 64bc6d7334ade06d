// Preloaded into the ThreadSanitizer runs (.ci/run): limits TBB to one thread for the life of the
// process. Debian's libtbb is not built with TSan, so TSan cannot see the synchronisation inside
// TBB's scheduler and reports every task handed between TBB threads as a race; with one TBB
// thread those handoffs stay on one thread, while the threads that mttt itself starts (the data
// pipeline's producer and its prefetch queue) and OpenMP's (on LLVM's libomp with Archer) are
// checked. docs/reliability.md says what this leaves unchecked.
#include <tbb/global_control.h>

namespace {
const tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);
}  // namespace
