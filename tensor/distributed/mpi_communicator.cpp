// The MPI communicator: collectives on host memory over a duplicate of MPI_COMM_WORLD (so that
// two users of MPI in one program cannot mix their messages). CUDA tensors are staged through
// host memory (NCCL is their fast road). MPI errors return codes (MPI_ERRORS_RETURN) that become
// mttt errors naming the call; abort() ends every rank with MPI_Abort.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>

#include "tensor/creation.hpp"
#include "tensor/distributed/communicator.hpp"
#include "tensor/error.hpp"
#include "tensor/ops/inplace.hpp"
#include "tensor/ops/transfer.hpp"
#include "tensor/runtime.hpp"

namespace mttt::distributed {

namespace {

void check_mpi(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw_error("mpi", std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

// Initialises MPI once per process (threads: only the main thread calls MPI) and finalises it
// at exit if this library was the one to initialise it.
void ensure_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return;
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized) MPI_Finalize();
    });
  });
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::float32: return MPI_FLOAT;
    case DType::float64: return MPI_DOUBLE;
    case DType::int64: return MPI_INT64_T;
    default: break;
  }
  fail("mpi", "dtype {} has no MPI type", to_string(dtype));
}

bool host_memory(const Tensor& t) { return t.device().type != DeviceType::cuda; }

// Divides n elements at `data` by `by` (an average's last step).
void divide(void* data, DType dtype, std::int64_t n, int by) {
  if (dtype == DType::float32)
    for (float* p = static_cast<float*>(data); n-- > 0; ++p) *p /= static_cast<float>(by);
  else if (dtype == DType::float64)
    for (double* p = static_cast<double*>(data); n-- > 0; ++p) *p /= static_cast<double>(by);
  else
    for (std::int64_t* p = static_cast<std::int64_t*>(data); n-- > 0; ++p) *p /= by;
}

// Sums `ranks` contiguous blocks of n elements into `out`, block 0 first: one order everywhere.
template <class T> void sum_in_rank_order(const T* blocks, std::int64_t n, int ranks, T* out) {
  for (std::int64_t i = 0; i < n; ++i) {
    T acc = blocks[i];
    for (int r = 1; r < ranks; ++r) acc += blocks[static_cast<std::int64_t>(r) * n + i];
    out[i] = acc;
  }
}

class MpiWork final : public Work {
 public:
  MpiWork(MPI_Request request, Tensor host, Tensor target, Reduction op, int ranks)
      : request_(request), host_(std::move(host)), target_(std::move(target)), op_(op), ranks_(ranks) {}
  ~MpiWork() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);  // never leave MPI writing freed memory
  }
  void wait() override {
    if (request_ != MPI_REQUEST_NULL) check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait (all_reduce)");
    if (done_) return;
    done_ = true;
    if (op_ == Reduction::average) divide(host_.data_ptr(), host_.dtype(), host_.numel(), ranks_);
    if (target_.defined()) copy_(target_, host_);  // a staged CUDA tensor gets the result
  }

 private:
  MPI_Request request_;
  Tensor host_;    // the memory MPI reduces: the tensor itself, or its host copy
  Tensor target_;  // the CUDA tensor the host copy goes back to, when staged
  Reduction op_;
  int ranks_;
  bool done_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    ensure_initialized();
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  std::string kind() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::unique_ptr<Work> all_reduce_async(const Tensor& t, Reduction op) override {
    check_collective_tensor("all_reduce", t);
    const bool staged = !host_memory(t);
    Tensor host = staged ? to(t, kCPU) : t;
    const auto n = host.numel();
    if (deterministic() && host.dtype() != DType::int64) {
      // Every rank's block, summed in rank order: the same bits on every rank and in every run.
      check_count(n * size_, "all_reduce");
      Tensor blocks = Tensor::empty({static_cast<std::int64_t>(size_), n}, host.dtype(), kCPU);
      check_mpi(MPI_Allgather(host.data_ptr(), static_cast<int>(n), mpi_type(host.dtype()), blocks.data_ptr(),
                              static_cast<int>(n), mpi_type(host.dtype()), comm_),
                "MPI_Allgather (deterministic all_reduce)");
      if (host.dtype() == DType::float32)
        sum_in_rank_order(blocks.data<float>(), n, size_, host.data<float>());
      else
        sum_in_rank_order(blocks.data<double>(), n, size_, host.data<double>());
      auto work = std::make_unique<MpiWork>(MPI_REQUEST_NULL, host, staged ? t : Tensor(), op, size_);
      work->wait();
      return work;
    }
    check_count(n, "all_reduce");
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, host.data_ptr(), static_cast<int>(n), mpi_type(host.dtype()), MPI_SUM, comm_,
                             &request),
              "MPI_Iallreduce");
    return std::make_unique<MpiWork>(request, host, staged ? t : Tensor(), op, size_);
  }

  void broadcast(const Tensor& t, int root) override {
    check_collective_tensor("broadcast", t);
    check(root >= 0 && root < size_, "broadcast", "root {} is not a rank of {}", root, size_);
    const bool staged = !host_memory(t);
    Tensor host = staged ? to(t, kCPU) : t;
    check_count(host.numel(), "broadcast");
    check_mpi(MPI_Bcast(host.data_ptr(), static_cast<int>(host.numel()), mpi_type(host.dtype()), root, comm_), "MPI_Bcast");
    if (staged) copy_(t, host);
  }

  void barrier() override { check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

  std::vector<std::string> all_gather(const std::string& bytes) override {
    const int length = static_cast<int>(bytes.size());
    std::vector<int> lengths(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));
    check_mpi(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, comm_), "MPI_Allgather (lengths)");
    int total = 0;
    for (int r = 0; r < size_; ++r) offsets[static_cast<std::size_t>(r)] = total, total += lengths[static_cast<std::size_t>(r)];
    std::string joined(static_cast<std::size_t>(total), '\0');
    check_mpi(MPI_Allgatherv(bytes.data(), length, MPI_CHAR, joined.data(), lengths.data(), offsets.data(), MPI_CHAR, comm_),
              "MPI_Allgatherv");
    std::vector<std::string> out;
    for (int r = 0; r < size_; ++r)
      out.push_back(joined.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                                  static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)])));
    return out;
  }

  [[noreturn]] void abort(const std::string& message, int exit_code) override {
    std::fprintf(stderr, "[rank %d of %d] %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);  // MPI_Abort does not return; should it, the process ends anyway
  }

 private:
  static void check_count(std::int64_t n, const char* op) {
    check(n <= std::numeric_limits<int>::max(), op, "{} elements exceed MPI's int count: split the tensor", n);
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool mpi_available() { return true; }
std::unique_ptr<Communicator> mpi_world() { return std::make_unique<MpiCommunicator>(); }

}  // namespace mttt::distributed
