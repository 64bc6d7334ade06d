#include "tensor/distributed/communicator.hpp"

#include <cstdio>
#include <cstdlib>

#include "tensor/error.hpp"

namespace mttt::distributed {

namespace {

class SingleProcess final : public Communicator {
 public:
  std::string kind() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::unique_ptr<Work> all_reduce_async(const Tensor& t, Reduction) override {
    check_collective_tensor("all_reduce", t);
    struct Done final : Work {
      void wait() override {}
    };
    return std::make_unique<Done>();
  }
  void broadcast(const Tensor& t, int root) override {
    check_collective_tensor("broadcast", t);
    check(root == 0, "broadcast", "root {} is not a rank of a single process", root);
  }
  void barrier() override {}
  std::vector<std::string> all_gather(const std::string& bytes) override { return {bytes}; }
  [[noreturn]] void abort(const std::string& message, int exit_code) override {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    std::_Exit(exit_code);
  }
};

}  // namespace

std::unique_ptr<Communicator> single_process() { return std::make_unique<SingleProcess>(); }

bool launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_NTASKS"})
    if (const char* value = std::getenv(variable); value && *value) return true;
  return false;
}

std::unique_ptr<Communicator> default_communicator() {
  if (mpi_available() && launched_by_mpi()) {
    auto world = mpi_world();
    if (world->size() > 1) return world;
  }
  return single_process();
}

void check_collective_tensor(const char* op, const Tensor& t) {
  check(t.defined(), op, "the tensor is undefined");
  if (!t.is_contiguous())
    fail(op, "a {} tensor with strides {} is not contiguous: collectives take contiguous memory (call contiguous())",
         to_string(t.shape()), to_string(t.strides()));
  const DType dtype = t.dtype();
  check(dtype == DType::float32 || dtype == DType::float64 || dtype == DType::int64, op,
        "dtype {} cannot be reduced: expected float32, float64 or int64", to_string(dtype));
}

void require_agreement(Communicator& comm, const std::string& what, const std::string& value) {
  const std::vector<std::string> values = comm.all_gather(value);
  std::string differing;
  for (int r = 1; r < static_cast<int>(values.size()); ++r)
    if (values[static_cast<std::size_t>(r)] != values[0])
      differing += fmt::format("{}rank {} has {}", differing.empty() ? "" : "; ", r, values[static_cast<std::size_t>(r)]);
  if (!differing.empty())
    fail("distributed", "the ranks disagree on {}: rank 0 has {}; {}. Every rank must be given the same config and data",
         what, values[0], differing);
}

#if !defined(MTTT_HAVE_MPI)
bool mpi_available() { return false; }
std::unique_ptr<Communicator> mpi_world() {
  fail("distributed", "this build has no MPI: install Open MPI (Debian: libopenmpi-dev openmpi-bin) and "
                      "configure with `meson setup build -Dmpi=enabled`");
}
#endif

#if !defined(MTTT_HAVE_NCCL)
bool nccl_available() { return false; }
std::unique_ptr<Communicator> nccl(Communicator&, int, double) {
  fail("distributed", "this build has no NCCL: configure on a machine with the CUDA toolkit with "
                      "`meson setup build -Dcuda=enabled -Dnccl=enabled`");
}
#endif

}  // namespace mttt::distributed
