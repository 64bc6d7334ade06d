// Kernels whose work items are groups of threads: a row of softmax or layer norm, one output's
// run of a reduction. A kernel body is written once against a group (lane(), size(), and
// reduce(), whose result every lane receives) and runs on the host with one thread per group
// (SerialGroup: its loops visit the row in order, as a plain loop would) and on CUDA with a warp
// or a block per group (tensor/backend/cuda/groups.cuh), reducing along a fixed tree.
#pragma once

#include "tensor/backend/thrust/launch.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

// One thread is the whole group.
struct SerialGroup {
  static constexpr bool kSerial = true;
  MTTT_HD int lane() const { return 0; }
  MTTT_HD int size() const { return 1; }
  template <class A, class Combine> MTTT_HD A reduce(A value, Combine) const { return value; }
};

// Combines for reduce().
template <class T> struct SumOf {
  MTTT_HD T operator()(T a, T b) const { return a + b; }
};
template <class T> struct MaxOf {  // NaN-blind, as a row maximum compared with > is
  MTTT_HD T operator()(T a, T b) const { return b > a ? b : a; }
};

}  // namespace thrust_backend

}  // namespace mttt::MTTT_THRUST_SYSTEM

#if defined(__CUDACC__)
#include "tensor/backend/cuda/groups.cuh"
#else
#include <barrier>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

template <class Body> struct SerialGroups {
  Body body;
  void operator()(Index group) const { body(SerialGroup{}, group); }
};

// Lanes of host threads in lockstep: what the CUDA groups run (lane-strided loops, reductions
// mid-body, lanes leaving after a reduction), run on the host, so that the parity tests check
// those bodies where there is no GPU (MTTT_THRUST_HOST_LANES=n > 1; slow, for tests only). A
// reduction folds the lanes' values in lane order.
struct Lockstep {
  explicit Lockstep(int lanes) : sync(lanes), slots(static_cast<std::size_t>(lanes) * 64) {}
  std::barrier<> sync;
  std::vector<unsigned char> slots;  // a lane's value at lane * 64
};
struct LockstepGroup {
  static constexpr bool kSerial = false;
  int lane_, size_;
  Lockstep* shared;
  int lane() const { return lane_; }
  int size() const { return size_; }
  template <class A, class Combine> A reduce(A value, Combine combine) const {
    static_assert(sizeof(A) <= 64);
    std::memcpy(shared->slots.data() + lane_ * 64, &value, sizeof(A));
    shared->sync.arrive_and_wait();
    A total;
    std::memcpy(&total, shared->slots.data(), sizeof(A));
    for (int l = 1; l < size_; ++l) {
      A other;
      std::memcpy(&other, shared->slots.data() + l * 64, sizeof(A));
      total = combine(total, other);
    }
    shared->sync.arrive_and_wait();  // before a next reduce overwrites the slots
    return total;
  }
};

inline int lockstep_lanes() {
  static const int lanes = [] {
    const char* text = std::getenv("MTTT_THRUST_HOST_LANES");
    const int n = text ? std::atoi(text) : 1;
    if (text && (n < 1 || n > 64))
      throw_error("thrust-host", std::string("MTTT_THRUST_HOST_LANES must be 1 to 64, got '") + text + "'");
    return n;
  }();
  return lanes;
}

// body(group, g) for every g < groups; `length` (the elements a group visits) picks a warp or a
// block per group on CUDA and does not matter here.
template <class Body> void for_each_group(Index groups, Index /*length*/, const Body& body) {
  const int lanes = lockstep_lanes();
  if (lanes == 1) return parallel_for(groups, SerialGroups<Body>{body});
  if (groups <= 0) return;
  launch_counters().launch();
  run_or_record([groups, lanes, body] {
    Lockstep shared(lanes);
    std::vector<std::thread> threads;
    for (int l = 0; l < lanes; ++l)
      threads.emplace_back([&, l] {
        for (Index g = 0; g < groups; ++g) body(LockstepGroup{l, lanes, &shared}, g);
      });
    for (auto& t : threads) t.join();
  });
}

}  // namespace thrust_backend

}  // namespace mttt::MTTT_THRUST_SYSTEM
#endif
