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
namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

template <class Body> struct SerialGroups {
  Body body;
  void operator()(Index group) const { body(SerialGroup{}, group); }
};

// body(group, g) for every g < groups; `length` (the elements a group visits) picks a warp or a
// block per group on CUDA and does not matter here.
template <class Body> void for_each_group(Index groups, Index /*length*/, const Body& body) {
  parallel_for(groups, SerialGroups<Body>{body});
}

}  // namespace thrust_backend

}  // namespace mttt::MTTT_THRUST_SYSTEM
#endif
