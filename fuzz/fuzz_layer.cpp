// libFuzzer target: `mttt layer`'s input checks and the layer run after them
// (mttt/layer_run.hpp). Input: five bytes of flags, the eta values, then one safetensors file
// whose tensors are the parameters and, by name, y, perm and dz:
//   [0] kind (of layer_kinds()), [1] heads - 1 (mod 4), [2] steps (mod 5; 0: not given),
//   [3] bit 0 --sgd, bits 1-2 --decoder-ln (1 on, 2 off, else not given), [4] eta count (mod 5),
//   then that many bytes, eta = byte / 16; the rest is the file.
// A refusal is an mttt::Error; any other exception escaping is a crash, and so is a run that
// passed the checks and returned z of another shape than y's. fuzz/make_layer_seeds.py writes
// the seeds.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "mttt/layer_run.hpp"
#include "nn/checkpoint/safetensors.hpp"
#include "tensor/error.hpp"

namespace {

// The file's bytes behind a path, as the command reads a file, without touching the disk.
class MemoryFile {
 public:
  MemoryFile(const std::uint8_t* data, std::size_t size) : fd_(memfd_create("fuzz_layer", 0)) {
    if (fd_ < 0) __builtin_trap();
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = write(fd_, data + done, size - done);
      if (n <= 0) __builtin_trap();
      done += static_cast<std::size_t>(n);
    }
  }
  ~MemoryFile() { close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mttt;
  if (size < 5) return 0;
  ttt::LayerRequest request;
  request.kind = ttt::layer_kinds()[data[0] % ttt::layer_kinds().size()];
  request.heads = 1 + data[1] % 4;
  request.steps = data[2] % 5;
  request.sgd = data[3] & 1;
  if (const int ln = (data[3] >> 1) & 3; ln == 1 || ln == 2) request.decoder_ln = ln == 1;
  const std::size_t etas = data[4] % 5;
  if (size < 5 + etas) return 0;
  for (std::size_t i = 0; i < etas; ++i) request.eta.push_back(data[5 + i] / 16.0);
  const MemoryFile file(data + 5 + etas, size - 5 - etas);

  ttt::LayerInputs in;
  try {
    for (auto& [name, tensor] : nn::load_safetensors(file.path()).tensors) {
      if (name == "y")
        in.y = tensor;
      else if (name == "perm")
        in.perm = tensor;
      else if (name == "dz")
        in.cotangent = tensor;
      else
        in.params.emplace_back(name, tensor);
    }
    const NamedTensors out = ttt::run_layer(request, in);
    if (out.empty() || out.front().first != "z" || out.front().second.shape() != in.y.shape()) __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
