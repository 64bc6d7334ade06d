// The tensor library in one include: the Tensor type, creation, every operation, fusion, the
// autodiff API (grad, backward, no_grad scopes, gradcheck) and the devices' statistics. The
// backend interface (tensor/backend/backend.hpp) is not in it: code that implements or measures
// kernels includes it itself.
#pragma once

#include "tensor/autograd.hpp"
#include "tensor/core.hpp"
#include "tensor/creation.hpp"
#include "tensor/device_stats.hpp"
#include "tensor/gradcheck.hpp"
#include "tensor/ops/elementwise.hpp"
#include "tensor/ops/index.hpp"
#include "tensor/ops/inplace.hpp"
#include "tensor/ops/matmul.hpp"
#include "tensor/ops/norm.hpp"
#include "tensor/ops/reduce.hpp"
#include "tensor/ops/shape_ops.hpp"
#include "tensor/ops/softmax.hpp"
#include "tensor/ops/transfer.hpp"
#include "tensor/random.hpp"
#include "tensor/runtime.hpp"
#include "tensor/stream.hpp"
