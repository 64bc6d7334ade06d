// The CUDA device: the Thrust backend (tensor/backend/thrust/thrust_backend_impl.hpp) compiled
// by nvcc for Thrust's CUDA system, over device memory from cudaMalloc under the caching
// allocator, with matrix products on cuBLAS. Every CUDA and cuBLAS error becomes an mttt error
// naming the call; with no GPU the first call fails that way (cudaErrorInsufficientDriver or
// cudaErrorNoDevice), never a crash. Messages are built without fmt, whose compile-time format
// checks nvcc cannot evaluate.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <mutex>
#include <functional>
#include <memory>
#include <type_traits>

#include "tensor/backend/thrust/thrust_backend_impl.hpp"

namespace mttt {

namespace {

void check_cuda(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw_error("cuda", std::string(call) + " failed: " + cudaGetErrorString(status) + " (" +
                            std::to_string(static_cast<int>(status)) + ")");
}

void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw_error("cuda", std::string(call) + " failed: " + cublasGetStatusString(status) + " (" +
                            std::to_string(static_cast<int>(status)) + ")");
}

// cudaMalloc is among the calls a stream capture forbids the capturing thread (thread-local
// mode): it is not enqueued, so a graph that relied on it being replayed would be invalid. A
// graph's pool takes fresh memory during its capture and never relies on that (the memory stays
// the graph's), so the call is made in relaxed mode for its duration, as PyTorch's allocator
// does; outside a capture the mode changes nothing.
class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode() { cudaThreadExchangeStreamCaptureMode(&mode_); }
  ~RelaxedCaptureMode() { cudaThreadExchangeStreamCaptureMode(&mode_); }
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  cudaStreamCaptureMode mode_ = cudaStreamCaptureModeRelaxed;
};

class CudaRawAllocator final : public RawAllocator {
 public:
  void* allocate(std::size_t bytes) override {
    void* pointer = nullptr;
    RelaxedCaptureMode relaxed;
    const cudaError_t status = cudaMalloc(&pointer, bytes);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear it: the caching allocator frees its cache and retries
      return nullptr;
    }
    check_cuda(status, "cudaMalloc");
    return pointer;
  }
  void deallocate(void* pointer, std::size_t) override { check_cuda(cudaFree(pointer), "cudaFree"); }
};

// Page-locked host memory, from which the GPU copies without the host waiting.
class PinnedRawAllocator final : public RawAllocator {
 public:
  void* allocate(std::size_t bytes) override {
    void* pointer = nullptr;
    const cudaError_t status = cudaHostAlloc(&pointer, bytes, cudaHostAllocDefault);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      return nullptr;
    }
    check_cuda(status, "cudaHostAlloc");
    return pointer;
  }
  void deallocate(void* pointer, std::size_t) override { check_cuda(cudaFreeHost(pointer), "cudaFreeHost"); }
};

// Streams are created non-blocking: they and the legacy default stream do not wait for one
// another (a batch's copy runs beside the step before it); events order them (tensor/stream.hpp).
// Copies to the device go through pinned staging blocks from a caching allocator of their
// own: a block is taken on a stream id no real stream has, is marked used on the copy's stream,
// and so is handed out again only once an event after the copy has completed.
class CudaStreams final : public DeviceStreams {
 public:
  CudaStreams() : staging_(std::make_unique<PinnedRawAllocator>(), std::size_t{256} << 20, this) {}
  void copy_to_device(const void* host, void* device, std::size_t bytes, StreamId stream) override {
    void* staged = staging_.allocate(bytes, kStagingStream);
    std::memcpy(staged, host, bytes);
    const cudaError_t status =
        cudaMemcpyAsync(device, staged, bytes, cudaMemcpyHostToDevice, reinterpret_cast<cudaStream_t>(stream));
    staging_.record_stream(staged, stream);
    staging_.deallocate(staged, bytes);
    check_cuda(status, "cudaMemcpyAsync (host to device)");
  }
  void copy_to_host(const void* device, void* host, std::size_t bytes, StreamId stream) override {
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    check_cuda(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync (device to host)");
    check_cuda(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  }
  std::int64_t staging_allocations() const override { return staging_.stats().system_allocations; }

  StreamId create() override {
    cudaStream_t stream = nullptr;
    check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    return reinterpret_cast<StreamId>(stream);
  }
  void synchronize(StreamId stream) override {
    check_cuda(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
  }
  void wait(StreamId stream, std::uint64_t event) override {
    check_cuda(cudaStreamWaitEvent(reinterpret_cast<cudaStream_t>(stream), reinterpret_cast<cudaEvent_t>(event), 0),
               "cudaStreamWaitEvent");
  }
  std::uint64_t record(StreamId stream) override {
    cudaEvent_t event = nullptr;
    check_cuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    check_cuda(cudaEventRecord(event, reinterpret_cast<cudaStream_t>(stream)), "cudaEventRecord");
    return reinterpret_cast<std::uint64_t>(event);
  }
  bool completed(std::uint64_t event) override {
    const cudaError_t status = cudaEventQuery(reinterpret_cast<cudaEvent_t>(event));
    if (status == cudaErrorNotReady) {
      (void)cudaGetLastError();
      return false;
    }
    check_cuda(status, "cudaEventQuery");
    return true;
  }
  void release(std::uint64_t event) override {
    check_cuda(cudaEventDestroy(reinterpret_cast<cudaEvent_t>(event)), "cudaEventDestroy");
  }

  // A capture runs on a stream of the capturing thread's own, never the legacy default stream
  // (which cannot be captured), created non-blocking so that no implicit synchronisation with
  // the legacy stream enters the capture. Thread-local mode: other threads (data loaders, which
  // may allocate pinned memory) stay free to make calls a capture forbids; this thread's are
  // kept out by the Thrust backend (no synchronisation, no copy from the host, allocations from
  // the graph's pool, no event queries or frees in the caching allocator).
  StreamId begin_capture(StreamId) override {
    thread_local cudaStream_t stream = [] {
      cudaStream_t s = nullptr;
      check_cuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
      return s;
    }();
    check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    return reinterpret_cast<StreamId>(stream);
  }
  std::function<void(StreamId)> end_capture(StreamId capturing) override {
    cudaGraph_t graph = nullptr;
    check_cuda(cudaStreamEndCapture(reinterpret_cast<cudaStream_t>(capturing), &graph), "cudaStreamEndCapture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    check_cuda(cudaGraphDestroy(graph), "cudaGraphDestroy");
    check_cuda(status, "cudaGraphInstantiate");
    // Destroying an executable graph that is still running frees it once it completes.
    std::shared_ptr<std::remove_pointer_t<cudaGraphExec_t>> held(exec, [](cudaGraphExec_t e) { cudaGraphExecDestroy(e); });
    return [held](StreamId stream) {
      check_cuda(cudaGraphLaunch(held.get(), reinterpret_cast<cudaStream_t>(stream)), "cudaGraphLaunch");
    };
  }

 private:
  static constexpr StreamId kStagingStream = ~StreamId{0};
  CachingAllocator staging_;  // last: it records and queries events through this object
};

// The calling thread's handle (a handle is not for two threads at once), bound to its current
// stream of the device. The workspace is set by hand (cublasSetStream resets it to cuBLAS's own
// pool, which allocates as it goes: not allowed inside a graph capture), one block per stream, so
// that GEMMs on two streams at once never share one; 32 MiB, NVIDIA's advice for Hopper. A
// graph keeps its capture stream's (each capturing thread has its own stream).
cublasHandle_t cublas() {
  constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;
  thread_local cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    RelaxedCaptureMode relaxed;  // it allocates, and the first GEMM may be inside a capture
    check_cublas(cublasCreate(&h), "cublasCreate");
    return h;
  }();
  const StreamId stream = current_stream(cuda_process_device()).id;
  void* workspace = nullptr;
  {
    static std::mutex mutex;
    static std::map<StreamId, void*> workspaces;  // streams live as long as the process
    std::lock_guard lock(mutex);
    void*& w = workspaces[stream];
    if (w == nullptr) {
      RelaxedCaptureMode relaxed;  // a stream's first GEMM may be inside a capture
      check_cuda(cudaMalloc(&w, kWorkspaceBytes), "cudaMalloc (cuBLAS workspace)");
    }
    workspace = w;
  }
  check_cublas(cublasSetStream(handle, reinterpret_cast<cudaStream_t>(stream)), "cublasSetStream");
  check_cublas(cublasSetWorkspace(handle, workspace, kWorkspaceBytes), "cublasSetWorkspace");
  return handle;
}

// A matrix operand as cuBLAS takes it: rows or columns of unit stride, else a contiguous copy.
struct Operand {
  Tensor view;
  bool transposed = false;  // element (i, j) at i + j * ld instead of i * ld + j
  std::int64_t ld = 0;
};

Operand prepare(const Tensor& t) {
  const int r = t.rank();
  const std::int64_t rows = t.shape()[r - 2], cols = t.shape()[r - 1];
  const std::int64_t s0 = t.strides()[r - 2], s1 = t.strides()[r - 1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<std::int64_t>(cols, 1)) return {t, false, s0};
  if ((s0 == 1 || rows == 1) && s1 >= std::max<std::int64_t>(rows, 1)) return {t, true, s1};
  Tensor copy = Tensor::empty(t.shape(), t.dtype(), t.device());
  backend_of(t).copy(t, copy);
  return {copy, false, std::max<std::int64_t>(cols, 1)};
}

template <class T>
void gemm_batched(cublasOperation_t op_b, cublasOperation_t op_a, int m, int n, int k, const T* a, long long lda,
                  long long stride_a, const T* b, long long ldb, long long stride_b, T* c, long long stride_c, int count) {
  const T one(1), zero(0);
  cuda_system::thrust_backend::launch_counters().launch();
  // Row-major C = A B is column-major C^T = B^T A^T.
  if constexpr (std::is_same_v<T, float>)
    check_cublas(cublasSgemmStridedBatched(cublas(), op_b, op_a, n, m, k, &one, b, static_cast<int>(ldb), stride_b, a,
                                           static_cast<int>(lda), stride_a, &zero, c, n, stride_c, count),
                 "cublasSgemmStridedBatched");
  else
    check_cublas(cublasDgemmStridedBatched(cublas(), op_b, op_a, n, m, k, &one, b, static_cast<int>(ldb), stride_b, a,
                                           static_cast<int>(lda), stride_a, &zero, c, n, stride_c, count),
                 "cublasDgemmStridedBatched");
}

// out[..., m, n] = a[..., m, k] @ b[..., k, n], a and b broadcast to out's batch (stride 0 on
// broadcast axes): one strided-batched call per position of all batch axes but the last.
void cublas_matmul(const Tensor& a_in, const Tensor& b_in, const Tensor& out) {
  const int r = out.rank();
  const std::int64_t m = out.shape()[r - 2], n = out.shape()[r - 1], k = a_in.shape()[r - 1];
  if (out.numel() == 0) return;
  if (k == 0) {
    backend_of(out).fill(out, 0);
    return;
  }
  const Operand a = prepare(a_in), b = prepare(b_in);
  Shape outer = out.shape();
  outer.erase(r - 1);
  outer.erase(r - 2);
  std::int64_t inner = 1, stride_a = 0, stride_b = 0;
  if (!outer.empty()) {
    inner = outer[outer.size() - 1];
    stride_a = a.view.strides()[r - 3];
    stride_b = b.view.strides()[r - 3];
    outer.erase(outer.size() - 1);
  }
  Strides a_outer = a.view.strides(), b_outer = b.view.strides();
  while (a_outer.size() > outer.size()) a_outer.erase(a_outer.size() - 1);
  while (b_outer.size() > outer.size()) b_outer.erase(b_outer.size() - 1);
  const auto la = thrust_backend::make_layout(outer, a_outer), lb = thrust_backend::make_layout(outer, b_outer);
  const cublasOperation_t op_a = a.transposed ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = b.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  dispatch_floating(out.dtype(), "matmul", [&](auto zero) {
    using T = decltype(zero);
    const T* ad = static_cast<const T*>(a.view.data_ptr());
    const T* bd = static_cast<const T*>(b.view.data_ptr());
    T* cd = static_cast<T*>(out.data_ptr());
    for (std::int64_t o = 0, count = numel(outer); o < count; ++o)
      gemm_batched<T>(op_b, op_a, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), ad + la.offset(o), a.ld,
                      stride_a, bd + lb.offset(o), b.ld, stride_b, cd + o * inner * m * n, m * n, static_cast<int>(inner));
  });
}

}  // namespace

namespace {
std::atomic<int> g_process_gpu{0};
}  // namespace

Device cuda_process_device() { return {DeviceType::cuda, g_process_gpu.load(std::memory_order_relaxed)}; }

Backend* cuda_backend(int index) {
  static cuda_system::ThrustBackend* backend = [index] {
    int devices = 0;
    check_cuda(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
    if (devices == 0) throw_error("cuda", "no CUDA device is visible (cudaGetDeviceCount returned 0)");
    if (index >= devices)
      throw_error("cuda", "cuda:" + std::to_string(index) + " was asked for, but " + std::to_string(devices) +
                              (devices == 1 ? " GPU is" : " GPUs are") + " visible (cuda:0 to cuda:" +
                              std::to_string(devices - 1) + ")");
    check_cuda(cudaSetDevice(index), "cudaSetDevice");
    g_process_gpu.store(index, std::memory_order_relaxed);
    return new cuda_system::ThrustBackend({DeviceType::cuda, index}, std::make_unique<CudaRawAllocator>(),
                                          cublas_matmul, std::make_unique<CudaStreams>());
  }();
  if (index != backend->device().index)
    throw_error("cuda", "this process computes on cuda:" + std::to_string(backend->device().index) + ", and cuda:" +
                            std::to_string(index) +
                            " was asked for: the CUDA backend uses one GPU per process (run one process per GPU, as "
                            "`mpirun -np N mttt train` does; docs/distributed.md)");
  return backend;
}

}  // namespace mttt
