// The index of the tensor ops that the tests consult. Every function of the public ops headers
// (tensor/ops/*.hpp; the operators are add, sub, ... by another name) has one row: its name, its
// family (the header), the order to which it is differentiable, the Backend kernel its forward
// runs and the backends with a kernel of their own for it; and a case (a function of float64
// inputs) from which the tests run it:
// - tests/ops/test_op_table.cpp: every declared op has a row, and gradcheck at orders 1 and 2 passes
//   for every differentiable row on its inputs, on non-contiguous views of them and on broadcast
//   (stride-0) ones;
// - tests/ops/test_composite_kernels.cpp: the rows of fused kernels through Backend's composite
//   defaults, against the CPU kernels and through gradcheck;
// - tests/parity/test_parity_table.cpp: every row, values and derivatives, on the device under
//   test against the CPU.
// Adding an op: its row in op_table.cpp (docs/design.md, "Adding an op").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/gradcheck.hpp"
#include "tensor/tensor.hpp"

namespace test::ops {

using mttt::Tensor;
using Inputs = std::vector<Tensor>;

constexpr int kEveryOrder = 1000;

// Backends with a kernel of their own (bit flags); a fused kernel runs its composite default
// (tensor/backend/composite.cpp) on any other.
enum Native : unsigned {
  kComposed = 0,      // no kernel of its own: a view, or composed of other ops, on every backend
  kCpuKernel = 1,     // tensor/backend/cpu/
  kThrustKernel = 2,  // thrust-host and CUDA: one Thrust code (tensor/backend/thrust/)
};

struct OpRow {
  std::string name;    // as declared
  std::string family;  // the header, tensor/ops/<family>.hpp
  int order;           // differentiable to this order; kEveryOrder: to any; 0: not differentiable
  std::string kernel;  // the Backend kernel its forward runs; empty for kComposed
  unsigned native;     // Native flags
  // The case: f of the inputs, of which the first `differentiable` (float64) are checked and
  // the rest (indices, conditions) passed as they are; made afresh at each call, on the CPU.
  int differentiable;
  std::function<Tensor(const Inputs&)> f;
  std::function<Inputs()> inputs;
  // gradcheck's finite-difference step; larger where the case rounds through float32 (cast).
  double eps = 1e-6;
};

const std::vector<OpRow>& op_table();

// The kernels of Backend that have a composite default (backend.hpp, "fused kernels").
bool is_fused(const OpRow& row);

// How the checks present a row's differentiable inputs to the op: as made, as non-contiguous
// views of the same values, and broadcast (each input of a leading axis longer than one made
// from its first slice, expanded: stride 0). `f` is a function of the differentiable inputs
// only; everything lives on `device`.
struct Variant {
  std::string label;
  mttt::TensorFunction f;
  Inputs inputs;
};
std::vector<Variant> variants(const OpRow& row, mttt::Device device = mttt::kCPU);

// The variant's value, its first-order gradients for a fixed cotangent from a sweep that records
// nothing (a fused op's one-pass road), and up to `order` (at most 2) the gradients of
// sum(value^2) + the squared first-order gradients taken with create_graph; all detached.
std::vector<Tensor> derivatives(const Variant& variant, int order);

}  // namespace test::ops
