// The NCCL communicator: collectives on CUDA memory, on the device's current stream, bootstrapped
// over another communicator (MPI) that carries NCCL's unique id from rank 0. libnccl.so.2 is
// loaded when a communicator is first made, not linked: a CUDA build runs on machines without
// NCCL, and says so only to a program that asks for it. The communicator is
// non-blocking (NCCL's config.blocking = 0), so that a collective whose peer died cannot hang a
// rank: every wait polls NCCL's asynchronous error and, past the timeout, aborts the communicator
// and throws naming the operation, and the caller's abort() ends the job.
#include <cuda_runtime.h>
#include <nccl.h>

#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tensor/distributed/communicator.hpp"
#include "tensor/error.hpp"
#include "tensor/stream.hpp"

namespace mttt::distributed {

namespace {

// The NCCL functions this file calls, resolved from libnccl.so.2.
struct NcclApi {
  decltype(&ncclGetUniqueId) get_unique_id;
  decltype(&ncclCommInitRankConfig) init_rank_config;
  decltype(&ncclCommGetAsyncError) get_async_error;
  decltype(&ncclCommAbort) abort;
  decltype(&ncclCommDestroy) destroy;
  decltype(&ncclAllReduce) all_reduce;
  decltype(&ncclBroadcast) broadcast;
  decltype(&ncclGetErrorString) error_string;
};

const NcclApi& nccl_api() {
  static const NcclApi api = [] {
    void* library = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!library)
      throw_error("nccl", std::string("cannot load libnccl.so.2 (") + dlerror() +
                              "): install NCCL or put its folder on LD_LIBRARY_PATH");
    auto symbol = [library](const char* name) {
      void* f = dlsym(library, name);
      if (!f) throw_error("nccl", std::string("libnccl.so.2 lacks ") + name + ": NCCL 2.18 or newer is needed");
      return f;
    };
    NcclApi a;
    a.get_unique_id = reinterpret_cast<decltype(a.get_unique_id)>(symbol("ncclGetUniqueId"));
    a.init_rank_config = reinterpret_cast<decltype(a.init_rank_config)>(symbol("ncclCommInitRankConfig"));
    a.get_async_error = reinterpret_cast<decltype(a.get_async_error)>(symbol("ncclCommGetAsyncError"));
    a.abort = reinterpret_cast<decltype(a.abort)>(symbol("ncclCommAbort"));
    a.destroy = reinterpret_cast<decltype(a.destroy)>(symbol("ncclCommDestroy"));
    a.all_reduce = reinterpret_cast<decltype(a.all_reduce)>(symbol("ncclAllReduce"));
    a.broadcast = reinterpret_cast<decltype(a.broadcast)>(symbol("ncclBroadcast"));
    a.error_string = reinterpret_cast<decltype(a.error_string)>(symbol("ncclGetErrorString"));
    return a;
  }();
  return api;
}

void check_cuda(cudaError_t status, const char* call) {
  if (status != cudaSuccess) throw_error("nccl", std::string(call) + " failed: " + cudaGetErrorString(status));
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::float32: return ncclFloat32;
    case DType::float64: return ncclFloat64;
    case DType::int64: return ncclInt64;
    default: break;
  }
  fail("nccl", "dtype {} has no NCCL type", to_string(dtype));
}

class NcclCommunicator;

// Waits for a non-blocking NCCL call or queued collective: until `done()` holds, polling the
// communicator's asynchronous error; past the deadline it aborts the communicator and throws.
class Poller {
 public:
  Poller(ncclComm_t comm, double timeout_seconds, std::string op)
      : comm_(comm),
        deadline_(std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_seconds))),
        op_(std::move(op)) {}
  template <class Done> void until(Done done) {
    for (int spins = 0;; ++spins) {
      ncclResult_t async = ncclSuccess;
      nccl_api().get_async_error(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress) {
        nccl_api().abort(comm_);
        throw_error("nccl", op_ + " failed: " + nccl_api().error_string(async));
      }
      if (async == ncclSuccess && done()) return;
      if (std::chrono::steady_clock::now() > deadline_) {
        nccl_api().abort(comm_);
        throw_error("nccl", op_ + " did not finish within its timeout: another rank has died or stopped calling collectives");
      }
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

 private:
  ncclComm_t comm_;
  std::chrono::steady_clock::time_point deadline_;
  std::string op_;
};

class NcclWork final : public Work {
 public:
  NcclWork(ncclComm_t comm, cudaEvent_t event, double timeout) : comm_(comm), event_(event), timeout_(timeout) {}
  ~NcclWork() override { cudaEventDestroy(event_); }
  void wait() override {
    Poller(comm_, timeout_, "all_reduce").until([&] {
      const cudaError_t status = cudaEventQuery(event_);
      if (status == cudaErrorNotReady) return false;
      check_cuda(status, "cudaEventQuery");
      return true;
    });
  }

 private:
  ncclComm_t comm_;
  cudaEvent_t event_;
  double timeout_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, int device_index, double timeout)
      : bootstrap_(bootstrap), device_index_(device_index), timeout_(timeout) {
    check_cuda(cudaSetDevice(device_index), "cudaSetDevice");
    ncclUniqueId id{};
    if (bootstrap.rank() == 0) check_nccl(nccl_api().get_unique_id(&id), "ncclGetUniqueId");
    const std::string bytes = bootstrap.all_gather(std::string(reinterpret_cast<const char*>(&id), sizeof id))[0];
    std::memcpy(&id, bytes.data(), sizeof id);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const ncclResult_t status = nccl_api().init_rank_config(&comm_, bootstrap.size(), id, bootstrap.rank(), &config);
    if (status != ncclSuccess && status != ncclInProgress) check_nccl(status, "ncclCommInitRankConfig");
    Poller(comm_, timeout_, "ncclCommInitRankConfig").until([] { return true; });
  }
  ~NcclCommunicator() override { nccl_api().destroy(comm_); }

  std::string kind() const override { return "nccl"; }
  int rank() const override { return bootstrap_.rank(); }
  int size() const override { return bootstrap_.size(); }

  std::unique_ptr<Work> all_reduce_async(const Tensor& t, Reduction op) override {
    check_device("all_reduce", t);
    const cudaStream_t stream = current();
    enqueue("ncclAllReduce", [&] {
      return nccl_api().all_reduce(t.data_ptr(), t.data_ptr(), static_cast<std::size_t>(t.numel()), nccl_type(t.dtype()),
                           op == Reduction::average ? ncclAvg : ncclSum, comm_, stream);
    });
    cudaEvent_t event = nullptr;
    check_cuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    check_cuda(cudaEventRecord(event, stream), "cudaEventRecord");
    return std::make_unique<NcclWork>(comm_, event, timeout_);
  }

  void broadcast(const Tensor& t, int root) override {
    check_device("broadcast", t);
    check(root >= 0 && root < size(), "broadcast", "root {} is not a rank of {}", root, size());
    const cudaStream_t stream = current();
    enqueue("ncclBroadcast", [&] {
      return nccl_api().broadcast(t.data_ptr(), t.data_ptr(), static_cast<std::size_t>(t.numel()), nccl_type(t.dtype()), root,
                           comm_, stream);
    });
    NcclWork(comm_, record(stream), timeout_).wait();
  }

  void barrier() override { bootstrap_.barrier(); }
  std::vector<std::string> all_gather(const std::string& bytes) override { return bootstrap_.all_gather(bytes); }
  [[noreturn]] void abort(const std::string& message, int exit_code) override {
    nccl_api().abort(comm_);
    bootstrap_.abort(message, exit_code);
    std::_Exit(exit_code);  // the bootstrap's abort does not return
  }

 private:
  static void check_nccl(ncclResult_t status, const char* call) {
    if (status != ncclSuccess && status != ncclInProgress)
      throw_error("nccl", std::string(call) + " failed: " + nccl_api().error_string(status));
  }
  void check_device(const char* op, const Tensor& t) const {
    check_collective_tensor(op, t);
    check(t.device().type == DeviceType::cuda, op, "NCCL reduces CUDA tensors; this one is on {} (use MPI for host memory)",
          to_string(t.device()));
  }
  cudaStream_t current() const {
    return reinterpret_cast<cudaStream_t>(current_stream({DeviceType::cuda, device_index_}).id);
  }
  static cudaEvent_t record(cudaStream_t stream) {
    cudaEvent_t event = nullptr;
    check_cuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    check_cuda(cudaEventRecord(event, stream), "cudaEventRecord");
    return event;
  }
  // A non-blocking call may return ncclInProgress: it is queued once the communicator says so.
  template <class Call> void enqueue(const char* name, Call call) {
    check_nccl(call(), name);
    Poller(comm_, timeout_, name).until([] { return true; });
  }

  Communicator& bootstrap_;
  int device_index_;
  double timeout_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

bool nccl_available() { return true; }
std::unique_ptr<Communicator> nccl(Communicator& bootstrap, int device_index, double timeout_seconds) {
  return std::make_unique<NcclCommunicator>(bootstrap, device_index, timeout_seconds);
}

}  // namespace mttt::distributed
