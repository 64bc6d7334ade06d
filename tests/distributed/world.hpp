// The communicator the distributed tests share: MPI's world under mpirun, else the process alone.
#pragma once

#include "tensor/distributed/communicator.hpp"

namespace mttt::test {

inline distributed::Communicator& world() {
  static std::unique_ptr<distributed::Communicator> c = distributed::default_communicator();
  return *c;
}

}  // namespace mttt::test
