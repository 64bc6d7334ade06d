// Index values checked on the device without waiting for it. A kernel cannot throw and a read-back
// would cost a host synchronisation on every index op of a training step, so a check kernel
// records the first index outside [0, size) in a small record in device memory, and the record
// is read at the device's next synchronisation (a value copied to the host, a stream synchronised,
// a reduction's result), which throws it naming the op, the index and the axis size. Index
// kernels launched after a failed check must not touch memory at an out-of-range index
// (index_in_range): their results are discarded by the error that follows. Messages are built
// without fmt, whose compile-time format checks nvcc cannot evaluate.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/backend/thrust/launch.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

MTTT_HD inline bool index_in_range(Index v, Index size) { return v >= 0 && v < size; }

// The first check launch that found an index out of range since the record was last read:
// flag is its launch number (0: none), low the most negative of its bad values (0 if none),
// high the largest of those >= size; so the error names the same value whatever the order in
// which the device's threads ran.
struct IndexViolation {
  unsigned long long flag;
  Index low, high, size;
};

MTTT_HD inline unsigned long long claim_violation(unsigned long long* flag, unsigned long long launch) {
#if defined(__CUDA_ARCH__)
  return atomicCAS(flag, 0ULL, launch);
#else
  unsigned long long expected = 0;
  __atomic_compare_exchange_n(flag, &expected, launch, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return expected;
#endif
}

MTTT_HD inline void widen_violation(Index* low, Index* high, Index v) {
#if defined(__CUDA_ARCH__)
  if (v < 0)
    atomicMin(reinterpret_cast<long long*>(low), static_cast<long long>(v));
  else
    atomicMax(reinterpret_cast<long long*>(high), static_cast<long long>(v));
#else
  Index* at = v < 0 ? low : high;
  Index seen = __atomic_load_n(at, __ATOMIC_RELAXED);
  while ((v < 0 ? v < seen : v > seen) &&
         !__atomic_compare_exchange_n(at, &seen, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
#endif
}

struct CheckIndexKernel {
  const Index* data;
  Layout layout;
  Index size;
  unsigned long long launch;
  IndexViolation* record;
  MTTT_HD void operator()(Index i) const {
    const Index v = data[layout.offset(i)];
    if (index_in_range(v, size)) return;
    const unsigned long long first = claim_violation(&record->flag, launch);
    if (first != 0 && first != launch) return;  // an earlier check's violation is reported
    record->size = size;
    widen_violation(&record->low, &record->high, v);
  }
};

// The record of this instantiation's device and the ops of the checks launched since it was
// last read (string literals), by launch number. Launch numbers never repeat, so that the checks
// a graph captured (tensor/graph.hpp) keep theirs across replays: those stay in `captured` while
// the graph lives.
struct IndexCheckState {
  std::mutex mutex;
  IndexViolation* record = nullptr;  // from the backend's caching allocator, held for the process
  unsigned long long launches = 0;
  std::unordered_map<unsigned long long, const char*> ops;       // eager checks since the last read
  std::unordered_map<unsigned long long, const char*> captured;  // checks of live graphs
  std::atomic<bool> unread{false};   // a check ran since the record was last read
};

inline IndexCheckState& index_check_state() {
  static IndexCheckState* state = new IndexCheckState;  // never destroyed, as the backend
  return *state;
}

// The record, allocated and cleared on first use (before any capture: it is a copy from the host).
inline IndexViolation* index_record(Backend& backend) {
  IndexCheckState& state = index_check_state();
  std::lock_guard lock(state.mutex);
  if (!state.record) {
    state.record = static_cast<IndexViolation*>(backend.allocate(sizeof(IndexViolation)));
    const IndexViolation none{0, 0, 0, 0};
    static_cast<ThrustBackend&>(backend).upload(&none, state.record, sizeof(IndexViolation));
  }
  return state.record;
}

inline void check_indices(const Tensor& index, Index size, const char* op) {
  const Index n = index.numel();
  if (n == 0) return;
  IndexCheckState& state = index_check_state();
  IndexViolation* record = index_record(backend_of(index));
  unsigned long long launch = 0;
  {
    std::lock_guard lock(state.mutex);
    launch = ++state.launches;
    if (CaptureState* capture = this_thread_capture()) {
      capture->index_checks.emplace_back(launch, op);
      state.captured[launch] = op;
    } else {
      state.ops[launch] = op;
    }
  }
  parallel_for(n, CheckIndexKernel{typed<Index>(index), layout_of(index), size, launch, record});
  if (!this_thread_capture()) state.unread.store(true, std::memory_order_release);
}

// A replay ran captured checks: the record is read at the next synchronisation.
inline void index_checks_replayed() { index_check_state().unread.store(true, std::memory_order_release); }

// A graph is gone: its checks' launch numbers are forgotten.
inline void forget_captured_checks(const std::vector<std::pair<unsigned long long, const char*>>& checks) {
  IndexCheckState& state = index_check_state();
  std::lock_guard lock(state.mutex);
  for (const auto& check : checks) state.captured.erase(check.first);
}

// Called after each synchronisation of the device: throws the violation recorded since the last
// call, if any, and clears the record. Only after an index check ran: reading the record follows
// a synchronisation, so its wait (not counted again) finds the stream idle; the copy is 32 bytes.
inline void raise_deferred_index_error() {
  IndexCheckState& state = index_check_state();
  if (!state.unread.exchange(false, std::memory_order_acq_rel)) return;
  auto& device = static_cast<ThrustBackend&>(backend(this_device()));
  IndexViolation seen{0, 0, 0, 0};
  const char* op = nullptr;
  {
    std::lock_guard lock(state.mutex);
    device.download(state.record, &seen, sizeof(IndexViolation), /*after_sync=*/true);
    if (seen.flag != 0) {
      const IndexViolation none{0, 0, 0, 0};
      device.upload(&none, state.record, sizeof(IndexViolation));
      auto eager = state.ops.find(seen.flag);
      auto captured = state.captured.find(seen.flag);
      op = eager != state.ops.end() ? eager->second : captured != state.captured.end() ? captured->second : "index check";
    }
    state.ops.clear();
  }
  if (!op) return;
  const Index bad = seen.low < 0 ? seen.low : seen.high;
  throw_error(op, "index " + std::to_string(bad) + " is out of range for an axis of size " + std::to_string(seen.size) +
                      " (found by the device's index check, raised at its next synchronisation)");
}

}  // namespace thrust_backend

}  // namespace mttt::MTTT_THRUST_SYSTEM
