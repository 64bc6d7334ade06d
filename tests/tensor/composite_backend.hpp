// A test backend that runs the fused kernels (softmax, layer_norm, layer_norm_backward,
// layer_norm_backward_vjp) through Backend's composite defaults (tensor/backend/composite.cpp)
// and hands everything else to the CPU backend; it counts the fused calls it served. Installed
// for the CPU device with BackendSubstitution, it is what every tensor made in its scope uses:
//
//   CompositeKernels composite;
//   { BackendSubstitution scope(DeviceType::cpu, composite); ...ops on new CPU tensors... }
#pragma once

#include <array>
#include <atomic>

#include "tensor/backend/backend.hpp"

namespace test {

class CompositeKernels final : public mttt::Backend {
 public:
  enum Kernel { softmax_kernel, layer_norm_kernel, layer_norm_backward_kernel, layer_norm_backward_vjp_kernel };
  using Tensor = mttt::Tensor;

  int calls(Kernel k) const { return calls_[k].load(); }

  // The fused kernels: Backend's defaults, counted.
  void softmax(const Tensor& x, int axis, bool log, const Tensor& out) override {
    ++calls_[softmax_kernel];
    Backend::softmax(x, axis, log, out);
  }
  void layer_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, double eps, const Tensor& out) override {
    ++calls_[layer_norm_kernel];
    Backend::layer_norm(x, scale, bias, eps, out);
  }
  void layer_norm_backward(const Tensor& x, const Tensor& gy, double eps, const Tensor& out) override {
    ++calls_[layer_norm_backward_kernel];
    Backend::layer_norm_backward(x, gy, eps, out);
  }
  void layer_norm_backward_vjp(const Tensor& x, const Tensor& gy, const Tensor& u, double eps, const Tensor& x_bar,
                               const Tensor& gy_bar) override {
    ++calls_[layer_norm_backward_vjp_kernel];
    Backend::layer_norm_backward_vjp(x, gy, u, eps, x_bar, gy_bar);
  }

  // Everything else: the CPU backend's.
  mttt::Device device() const override { return mttt::kCPU; }
  void* allocate(std::size_t bytes) override { return cpu_.allocate(bytes); }
  void deallocate(void* pointer, std::size_t bytes) override { cpu_.deallocate(pointer, bytes); }
  mttt::MemoryStats memory_stats() const override { return cpu_.memory_stats(); }
  void reset_peak_memory() override { cpu_.reset_peak_memory(); }
  void empty_cache() override { cpu_.empty_cache(); }
  mttt::LaunchStats launch_stats() const override { return cpu_.launch_stats(); }
  void copy(const Tensor& src, const Tensor& dst) override { cpu_.copy(src, dst); }
  void fill(const Tensor& dst, double value) override { cpu_.fill(dst, value); }
  void copy_from_host(const void* host, const Tensor& dst) override { cpu_.copy_from_host(host, dst); }
  void copy_to_host(const Tensor& src, void* host) override { cpu_.copy_to_host(src, host); }
  void elementwise(const mttt::expr::Program& program, std::span<const Tensor> inputs,
                   std::span<const Tensor> outs) override {
    cpu_.elementwise(program, inputs, outs);
  }
  void reduce(mttt::ReduceOp op, const Tensor& x, std::uint32_t axes, const Tensor& out) override {
    cpu_.reduce(op, x, axes, out);
  }
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override { cpu_.matmul(a, b, out); }
  void uniform(const mttt::PhiloxStream& s, double low, double high, const Tensor& out) override {
    cpu_.uniform(s, low, high, out);
  }
  void normal(const mttt::PhiloxStream& s, double mean, double stddev, const Tensor& out) override {
    cpu_.normal(s, mean, stddev, out);
  }
  void arange(double start, double step, const Tensor& out) override { cpu_.arange(start, step, out); }
  void index_select(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override {
    cpu_.index_select(x, axis, index, out);
  }
  void index_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) override {
    cpu_.index_add(out, axis, index, src);
  }
  void gather(const Tensor& x, int axis, const Tensor& index, const Tensor& out) override {
    cpu_.gather(x, axis, index, out);
  }
  void scatter_add(const Tensor& out, int axis, const Tensor& index, const Tensor& src) override {
    cpu_.scatter_add(out, axis, index, src);
  }
  void check_index_range(const Tensor& index, std::int64_t size, const char* op) override {
    cpu_.check_index_range(index, size, op);
  }

 private:
  mttt::Backend& cpu_ = mttt::backend(mttt::kCPU);  // taken before any substitution
  std::array<std::atomic<int>, 4> calls_{};
};

}  // namespace test
