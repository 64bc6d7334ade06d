// CUDA's groups for the Thrust backend's group kernels (tensor/backend/thrust/groups.hpp): a
// warp or a block of 256 threads per work item, or one thread when items are a few elements
// long. Reductions run along a fixed tree (a butterfly within a warp, then the warps' results in
// warp order), so results do not change from run to run; every combine used with them is
// commutative, so all lanes of a butterfly hold the same value.
#pragma once

#include <cuda_runtime.h>

#include <cstring>
#include <type_traits>

#include "tensor/backend/thrust/launch.hpp"

namespace mttt::MTTT_THRUST_SYSTEM {

namespace thrust_backend {

constexpr int kGroupBlock = 256;  // threads per block of every group kernel
constexpr int kWarp = 32;

template <class A> __device__ A shuffle_xor(A value, int mask) {
  if constexpr (std::is_arithmetic_v<A>) {
    return __shfl_xor_sync(0xffffffffu, value, mask);
  } else {  // a small struct (an argmax's value and index), word by word
    static_assert(sizeof(A) % sizeof(int) == 0, "a group reduction's accumulator must be whole words");
    int words[sizeof(A) / sizeof(int)];
    std::memcpy(words, &value, sizeof(A));
    for (int k = 0; k < static_cast<int>(sizeof(A) / sizeof(int)); ++k)
      words[k] = __shfl_xor_sync(0xffffffffu, words[k], mask);
    std::memcpy(&value, words, sizeof(A));
    return value;
  }
}

template <class A, class Combine> __device__ A warp_reduce(A value, Combine combine) {
  for (int mask = kWarp / 2; mask > 0; mask /= 2) value = combine(value, shuffle_xor(value, mask));
  return value;
}

// The group's methods are host-device so that the bodies (host-device templates) compile for
// both sides; only the device side ever runs them.
struct WarpGroup {
  static constexpr bool kSerial = false;
  MTTT_HD int lane() const {
#if defined(__CUDA_ARCH__)
    return static_cast<int>(threadIdx.x) % kWarp;
#else
    return 0;
#endif
  }
  MTTT_HD int size() const { return kWarp; }
  template <class A, class Combine> MTTT_HD A reduce(A value, Combine combine) const {
#if defined(__CUDA_ARCH__)
    return warp_reduce(value, combine);
#else
    return value;
#endif
  }
};

struct BlockGroup {
  static constexpr bool kSerial = false;
  MTTT_HD int lane() const {
#if defined(__CUDA_ARCH__)
    return static_cast<int>(threadIdx.x);
#else
    return 0;
#endif
  }
  MTTT_HD int size() const { return kGroupBlock; }
  // Every thread of the block must call it (it synchronises the block).
  template <class A, class Combine> MTTT_HD A reduce(A value, Combine combine) const {
#if defined(__CUDA_ARCH__)
    constexpr int kWarps = kGroupBlock / kWarp;
    __shared__ __align__(16) unsigned char storage[kWarps * sizeof(A)];
    A* partial = reinterpret_cast<A*>(storage);
    value = warp_reduce(value, combine);
    if (threadIdx.x % kWarp == 0) partial[threadIdx.x / kWarp] = value;
    __syncthreads();
    A total = partial[0];
    for (int w = 1; w < kWarps; ++w) total = combine(total, partial[w]);
    __syncthreads();  // before a next reduce overwrites `partial`
    return total;
#else
    return value;
#endif
  }
};

template <class Body> __global__ void __launch_bounds__(kGroupBlock) thread_groups_kernel(Body body, Index groups) {
  const Index stride = static_cast<Index>(gridDim.x) * kGroupBlock;
  for (Index g = static_cast<Index>(blockIdx.x) * kGroupBlock + threadIdx.x; g < groups; g += stride)
    body(SerialGroup{}, g);
}

template <class Body> __global__ void __launch_bounds__(kGroupBlock) warp_groups_kernel(Body body, Index groups) {
  constexpr int kWarps = kGroupBlock / kWarp;
  const Index stride = static_cast<Index>(gridDim.x) * kWarps;
  for (Index g = static_cast<Index>(blockIdx.x) * kWarps + threadIdx.x / kWarp; g < groups; g += stride)
    body(WarpGroup{}, g);  // a warp's lanes share g: whole warps run or leave the loop
}

template <class Body> __global__ void __launch_bounds__(kGroupBlock) block_groups_kernel(Body body, Index groups) {
  for (Index g = blockIdx.x; g < groups; g += gridDim.x) body(BlockGroup{}, g);
}

inline void check_launch(const char* kernel) {
  const cudaError_t status = cudaGetLastError();  // no synchronisation: launch errors only
  if (status != cudaSuccess) throw_error(kernel, std::string("kernel launch failed: ") + cudaGetErrorString(status));
}

// body(group, g) for every g < groups, on the current stream: a thread per group when a group
// visits at most 8 elements (`length`), a warp up to 1,024, a block beyond.
template <class Body> void for_each_group(Index groups, Index length, const Body& body) {
  if (groups <= 0) return;
  launch_counters().launch();
  const auto stream = reinterpret_cast<cudaStream_t>(current_stream(this_device()).id);
  constexpr Index kMaxBlocks = Index{1} << 20;  // larger grids loop
  if (length <= 8) {
    const Index blocks = std::min((groups + kGroupBlock - 1) / kGroupBlock, kMaxBlocks);
    thread_groups_kernel<<<static_cast<unsigned>(blocks), kGroupBlock, 0, stream>>>(body, groups);
  } else if (length <= 1024) {
    const Index per_block = kGroupBlock / kWarp;
    const Index blocks = std::min((groups + per_block - 1) / per_block, kMaxBlocks);
    warp_groups_kernel<<<static_cast<unsigned>(blocks), kGroupBlock, 0, stream>>>(body, groups);
  } else {
    block_groups_kernel<<<static_cast<unsigned>(std::min(groups, kMaxBlocks)), kGroupBlock, 0, stream>>>(body, groups);
  }
  check_launch("for_each_group");
}

}  // namespace thrust_backend

}  // namespace mttt::MTTT_THRUST_SYSTEM
