// One rank fails while the others wait in a collective (tests/distributed/run_mpi.sh):
//   fault_rank raise   rank 1 meets an error, reports it and ends the job with abort()
//   fault_rank kill    rank 1 dies (SIGKILL) with no word to anyone
// Either way the job must end within seconds, never hang.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "tensor/distributed/communicator.hpp"
#include "tensor/tensor.hpp"

int main(int argc, char** argv) {
  using namespace mttt;
  if (argc != 2 || (std::strcmp(argv[1], "raise") != 0 && std::strcmp(argv[1], "kill") != 0)) {
    std::fprintf(stderr, "usage: fault_rank raise|kill\n");
    return 2;
  }
  auto comm = distributed::default_communicator();
  Tensor t = ones({16});
  comm->all_reduce(t);  // everyone is up
  if (comm->rank() == 1) {
    if (std::strcmp(argv[1], "kill") == 0) std::raise(SIGKILL);
    try {
      throw std::runtime_error("[train] step 3: the loss is not finite (nan)");
    } catch (const std::exception& e) {
      comm->abort(e.what(), 1);
    }
  }
  comm->all_reduce(t);  // rank 1 never comes: the job must not hang here
  std::fprintf(stderr, "rank %d: the collective returned without rank 1\n", comm->rank());
  return 3;
}
