// The CPU backend: Eigen for vectorised elementwise math, OpenMP for threads, OpenBLAS for
// matrix products. Each kernel family is defined in its own file of this folder.
#pragma once

#include "tensor/backend/backend.hpp"

namespace mttt {

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  Device device() const override { return kCPU; }

  void* allocate(std::size_t bytes) override { return allocator_.allocate(bytes); }
  void deallocate(void* pointer, std::size_t bytes) override { allocator_.deallocate(pointer, bytes); }
  MemoryStats memory_stats() const override { return allocator_.stats(); }
  void reset_peak_memory() override { allocator_.reset_peak(); }
  void empty_cache() override { allocator_.empty_cache(); }
  LaunchStats launch_stats() const override { return counters_.snapshot(allocator_.stats().system_allocations); }

  void copy(const Tensor& src, const Tensor& dst) override;                      // copy.cpp
  void fill(const Tensor& dst, double value) override;                           // copy.cpp
  void copy_from_host(const void* host, const Tensor& dst) override;             // copy.cpp
  void copy_to_host(const Tensor& src, void* host) override;                     // copy.cpp
  void elementwise(const expr::Program& program, std::span<const Tensor> inputs,
                   std::span<const Tensor> outs) override;                       // elementwise.cpp
  void reduce(ReduceOp op, const Tensor& x, std::uint32_t axes, const Tensor& out) override;  // reduce.cpp
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override;     // matmul.cpp
  // matmul without counting a launch: thrust-host's GEMM, counted there as its own launch.
  void gemm(const Tensor& a, const Tensor& b, const Tensor& out);                // matmul.cpp
  void softmax(const Tensor& x, int axis, bool log, const Tensor& out) override; // softmax.cpp
  void layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps,
                  const Tensor& out) override;                                   // layer_norm.cpp
  void layer_norm_backward(const Tensor& x, const Tensor& gy, double eps,
                           const Tensor& out) override;                          // layer_norm.cpp
  void layer_norm_backward_vjp(const Tensor& x, const Tensor& gy, const Tensor& u, double eps, const Tensor& x_bar,
                               const Tensor& gy_bar) override;                   // layer_norm.cpp
  void uniform(const PhiloxStream& stream, double low, double high, const Tensor& out) override;  // random.cpp
  void normal(const PhiloxStream& stream, double mean, double stddev, const Tensor& out) override; // random.cpp
  void arange(double start, double step, const Tensor& out) override;                           // random.cpp
  void index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override;  // index.cpp
  void index_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) override;   // index.cpp
  void gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override;        // index.cpp
  void scatter_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) override; // index.cpp

 private:
  CachingAllocator allocator_;
  DeviceCounters counters_;
};

}  // namespace mttt
