// Collective communication between the processes (ranks) of a data-parallel job: the one
// interface the trainer reduces gradients and broadcasts parameters through, with three
// implementations (the process alone; MPI over host memory; NCCL over CUDA memory, bootstrapped
// over MPI). Like a backend, a communicator works on tensors' memory; nothing above it does.
//
// Every collective is called by every rank in the same order with tensors of one shape and dtype
// (what MPI and NCCL require); the checks below catch a tensor a communicator cannot take, and
// require_agreement() catches ranks that were given different configs or data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/core.hpp"

namespace mttt::distributed {

enum class Reduction : std::uint8_t { sum, average };

// A collective started asynchronously; wait() blocks until its result is in the tensor.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string kind() const = 0;  // "single", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place on a contiguous tensor: every rank's `t` becomes the sum (or average) of all ranks'.
  // In deterministic mode (set_deterministic) the sum runs in rank order, the same bits on every
  // rank and in every run.
  virtual std::unique_ptr<Work> all_reduce_async(const Tensor& t, Reduction op) = 0;
  void all_reduce(const Tensor& t, Reduction op = Reduction::sum) { all_reduce_async(t, op)->wait(); }
  // In place: every rank's `t` becomes rank `root`'s.
  virtual void broadcast(const Tensor& t, int root) = 0;
  virtual void barrier() = 0;
  // Every rank's `bytes`, in rank order (small values: hashes, error reports).
  virtual std::vector<std::string> all_gather(const std::string& bytes) = 0;
  // Ends the whole job at once (every rank), after printing `message` with this rank's number;
  // for an error one rank meets that the others cannot know of.
  [[noreturn]] virtual void abort(const std::string& message, int exit_code) = 0;
};

// The process alone: rank 0 of 1; collectives leave tensors as they are.
std::unique_ptr<Communicator> single_process();

// MPI_COMM_WORLD (initialising MPI on first use); throws, saying how to build it, where this
// build has no MPI. `launched_by_mpi()` says whether the process was started by mpirun or srun.
std::unique_ptr<Communicator> mpi_world();
bool mpi_available();
bool launched_by_mpi();

// NCCL over the ranks of `bootstrap` (which carries NCCL's unique id from rank 0), on CUDA
// device `device_index`; throws where this build has no NCCL. Collectives that do not finish
// within `timeout_seconds` abort the communicator and throw, naming the operation.
std::unique_ptr<Communicator> nccl(Communicator& bootstrap, int device_index, double timeout_seconds = 600);
bool nccl_available();

// The communicator a program gets by default: MPI's world when launched by mpirun or srun with
// more than one rank and MPI is built in, else the process alone.
std::unique_ptr<Communicator> default_communicator();

// Refuses (on every rank, naming the ranks that differ and the values) when the ranks disagree on
// `value`: a config's or a model's fingerprint, a data set's size. `what` names it in the message.
void require_agreement(Communicator& comm, const std::string& what, const std::string& value);

// What a collective needs of a tensor: defined, contiguous, a dtype the transports carry.
void check_collective_tensor(const char* op, const Tensor& t);

}  // namespace mttt::distributed
