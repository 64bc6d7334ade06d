// Graphs (tensor/graph.hpp) on the device under test (thrust-host, which emulates CUDA Graphs by
// recording each launch; cuda on a GPU through MTTT_PARITY_DEVICE): a captured sequence of ops
// replays bit for bit what running it eagerly gives, for new values copied into its static
// inputs; nothing inside a capture may wait for the device; a graph's memory is its own while
// it lives and comes back when it goes.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tensor/graph.hpp"
#include "tensor/tensor.hpp"
#include "tests/parity/parity_check.hpp"

using namespace mttt;

namespace {

const Device kDevice = parity::kThrust;

// Static inputs on the device: the captured work reads them, copy_ gives them new values.
struct Inputs {
  Tensor x = empty({6, 40}, {DType::float32, kDevice});
  Tensor w = empty({40, 24}, {DType::float32, kDevice});
  Tensor scale = empty({40}, {DType::float32, kDevice});
  Tensor rows = empty({4}, {DType::int64, kDevice});
  Tensor picks = empty({6, 3}, {DType::int64, kDevice});

  void set(std::uint64_t seed, std::int64_t bad_row = -1) {
    Generator gen(seed);
    copy_(x, uniform({6, 40}, -2, 2, {DType::float32}, &gen));
    copy_(w, uniform({40, 24}, -1, 1, {DType::float32}, &gen));
    copy_(scale, uniform({40}, 0.5, 1.5, {DType::float32}, &gen));
    std::vector<std::int64_t> r = {static_cast<std::int64_t>(seed % 6), 5, 0, static_cast<std::int64_t>((seed + 3) % 6)};
    if (bad_row >= 0) r[1] = bad_row;
    copy_(rows, from_vector(r, {4}));
    std::vector<std::int64_t> p(18);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::int64_t>((i * 7 + seed) % 40);
    copy_(picks, from_vector(p, {6, 3}));
  }
};

// Every op family: elementwise programs short and long (over 24 instructions: kept in device
// memory), reductions to tensors, a matmul, index ops, softmax, layer norm, and a gradient
// through them (their backward kernels, index adjoints, sum_to).
std::vector<Tensor> work(const Inputs& in) {
  Tensor w = in.w.detach().requires_grad_();
  Tensor short_program = fuse([](Expr a) { return gelu(a * 2.0 + 1.0); }, in.x);
  Tensor long_program = fuse(
      [](Expr a, Expr b) {
        Expr y = a;
        for (int i = 0; i < 12; ++i) y = tanh(y * b + a * (0.1 * i));
        return y;
      },
      in.x, in.scale);
  Tensor h = matmul(layer_norm(in.x, in.scale, Tensor()), w);
  Tensor selected = index_select(softmax(h, -1), 0, in.rows);
  Tensor gathered = gather(long_program, 1, in.picks);
  Tensor loss = sum(selected * selected) + sum(gathered) + mean(max(short_program, {1}));
  Tensor gw = grad(loss, w);
  return {short_program, long_program, sum(h, {0}), selected, gathered, loss.detach(), gw};
}

std::vector<std::vector<double>> read(const std::vector<Tensor>& outs) {
  std::vector<std::vector<double>> values;
  for (const Tensor& t : outs) values.push_back(to(t, kCPU).to_vector<double>());
  return values;
}

}  // namespace

TEST_CASE("a captured sequence of ops replays what running it gives, bit for bit, for new static inputs") {
  Inputs in;
  std::vector<std::vector<std::vector<double>>> eager;
  for (std::uint64_t seed : {1, 2, 3}) {
    in.set(seed);
    eager.push_back(read(work(in)));
  }
  in.set(7);
  work(in);  // warm-up: the long program reaches the device, the caches fill
  std::vector<Tensor> outs;
  const LaunchStats before_capture = launch_stats(kDevice);
  Graph g = capture(kDevice, [&] { outs = work(in); });
  const LaunchStats captured = launch_stats(kDevice) - before_capture;
  CHECK(captured.host_syncs == 0);
  CHECK(captured.bytes_to_device == 0);  // nothing crossed: the long program was cached by the warm-up
  for (std::size_t k = 0; k < 3; ++k) {
    in.set(k + 1);
    const LaunchStats before = launch_stats(kDevice);
    g.replay();
    const LaunchStats replay = launch_stats(kDevice) - before;
    CHECK(replay.kernel_launches == 1);  // one graph launch
    CHECK(replay.host_syncs == 0);
    CHECK(replay.driver_allocations == 0);
    const auto replayed = read(outs);
    REQUIRE(replayed.size() == eager[k].size());
    for (std::size_t j = 0; j < replayed.size(); ++j) {
      INFO("input set " << k + 1 << ", output " << j);
      CHECK(replayed[j] == eager[k][j]);
    }
  }
}

TEST_CASE("inside a capture, whatever waits for the device throws naming the operation") {
  Inputs in;
  in.set(1);
  work(in);
  auto expect_refused = [&](const std::function<void()>& f, const std::string& op) {
    try {
      capture(kDevice, f);
      FAIL("the capture did not throw");
    } catch (const std::exception& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find(op) != std::string::npos);
      CHECK((message.find("synchronises with the host inside a graph capture") != std::string::npos ||
             message.find("cannot be captured") != std::string::npos));
    }
  };
  expect_refused([&] { (void)sum(in.x).item<float>(); }, "copy_to_host");
  expect_refused([&] { (void)in.w.to_vector<float>(); }, "copy_to_host");
  expect_refused([&] { synchronize(current_stream(kDevice)); }, "synchronize");
  expect_refused([&] { copy_(in.x, zeros({6, 40}, {DType::float32})); }, "copy_from_host");
  // A long program never launched before cannot be copied to the device inside the capture.
  try {
    capture(kDevice, [&] {
      fuse([](Expr a) {
        Expr y = a;
        for (int i = 0; i < 30; ++i) y = sin(y) * (1.0 + 0.01 * i);
        return y;
      }, in.x);
    });
    FAIL("the capture did not throw");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("first launched inside a graph capture") != std::string::npos);
  }
  // A failed capture leaves nothing behind: eager work and a new capture run as before.
  CHECK(std::isfinite(sum(in.x).item<float>()));
  Tensor out;
  Graph g = capture(kDevice, [&] { out = in.x * 3.0; });
  g.replay();
  CHECK(to(out, kCPU).to_vector<double>() == to(in.x * 3.0, kCPU).to_vector<double>());
}

TEST_CASE("the CPU cannot capture, and says so") {
  try {
    capture(kCPU, [] {});
    FAIL("the capture did not throw");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("cannot capture") != std::string::npos);
  }
}

TEST_CASE("an index check captured in a graph raises a replay's bad index at the next synchronisation") {
  Inputs in;
  in.set(1);
  Tensor out;
  out = index_select(in.x, 0, in.rows);  // warm-up
  Graph g = capture(kDevice, [&] { out = index_select(in.x, 0, in.rows); });
  g.replay();
  CHECK(to(out, kCPU).to_vector<double>() == to(index_select(in.x, 0, in.rows), kCPU).to_vector<double>());
  in.set(1, /*bad_row=*/9);
  g.replay();
  try {
    (void)sum(out).item<float>();
    FAIL("the bad index was not raised");
  } catch (const std::exception& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("index_select") != std::string::npos);
    CHECK(message.find("index 9 is out of range for an axis of size 6") != std::string::npos);
  }
}

TEST_CASE("a graph's memory is its own while it lives, and comes back when it goes") {
  const std::int64_t n = 3000;  // a size class no other test of this program uses
  Tensor x = uniform({n}, -1, 1, {DType::float32, kDevice});
  (void)(x * 2.0);
  capture(kDevice, [] {}).replay();  // an empty graph; the device's index-check record exists
  const MemoryStats start = memory_stats(kDevice);
  Tensor out;
  void* temporary = nullptr;
  auto g = std::make_unique<Graph>(capture(kDevice, [&] {
    Tensor a = x * 2.0;
    temporary = a.data_ptr();
    Tensor b = a + 1.0;
    a = Tensor();     // freed inside the capture: back to the graph's pool
    out = b * 4.0;    // reuses it: captured work runs in order
  }));
  CHECK(out.data_ptr() == temporary);
  void* graph_memory = out.data_ptr();
  out = Tensor();  // freed while the graph lives: it stays the graph's
  std::vector<Tensor> eager;
  for (int i = 0; i < 4; ++i) {
    eager.push_back(x * 3.0);
    CHECK(eager.back().data_ptr() != graph_memory);
  }
  g->replay();  // still runs on its own memory
  eager.clear();
  g.reset();  // the graph goes: its memory is cached for anyone
  const MemoryStats end = memory_stats(kDevice);
  CHECK(end.bytes_in_use == start.bytes_in_use);
  bool reused = false;
  for (int i = 0; i < 8 && !reused; ++i) {
    eager.push_back(x * 3.0);
    reused = eager.back().data_ptr() == graph_memory;
  }
  CHECK(reused);
}
