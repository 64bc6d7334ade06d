// The caching allocator's logic on the host, over a raw allocator and stream events that the
// test controls: the same logic serves the CUDA device's memory (cudaMalloc, cudaEventQuery).
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <vector>

#include "tensor/backend/caching_allocator.hpp"
#include "tensor/error.hpp"

using namespace mttt;

namespace {

// Hands out distinct fake addresses and counts what is live; can be told to run out of memory.
class FakeRaw final : public RawAllocator {
 public:
  explicit FakeRaw(std::size_t* live, std::size_t capacity = ~std::size_t{0}) : live_(live), capacity_(capacity) {}
  void* allocate(std::size_t bytes) override {
    if (*live_ + bytes > capacity_) return nullptr;
    *live_ += bytes;
    next_ += bytes + 4096;
    return reinterpret_cast<void*>(next_);
  }
  void deallocate(void*, std::size_t bytes) override { *live_ -= bytes; }

 private:
  std::size_t* live_;
  std::size_t capacity_;
  std::uintptr_t next_ = 1 << 20;
};

// Events complete when the test says the stream's work so far is done.
class FakeEvents final : public StreamEvents {
 public:
  std::uint64_t record(StreamId stream) override {
    events_[++last_] = {stream, queued_[stream]};
    return last_;
  }
  bool completed(std::uint64_t event) override {
    auto [stream, position] = events_.at(event);
    return done_[stream] >= position;
  }
  void release(std::uint64_t event) override { events_.erase(event); }

  void queue_work(StreamId stream) { ++queued_[stream]; }
  void finish_work(StreamId stream) { done_[stream] = queued_[stream]; }
  std::size_t live_events() const { return events_.size(); }

 private:
  std::uint64_t last_ = 0;
  std::map<std::uint64_t, std::pair<StreamId, int>> events_;
  std::map<StreamId, int> queued_, done_;
};

}  // namespace

TEST_CASE("caching allocator: sizes round to classes of at most 25% waste") {
  CHECK(CachingAllocator::round_size(1) == 64);
  CHECK(CachingAllocator::round_size(64) == 64);
  CHECK(CachingAllocator::round_size(65) == 128);
  CHECK(CachingAllocator::round_size(1024) == 1024);
  CHECK(CachingAllocator::round_size(1025) == 1280);
  for (std::size_t bytes : {2000u, 5000u, 100000u, 3000000u}) {
    const std::size_t r = CachingAllocator::round_size(bytes);
    CHECK(r >= bytes);
    CHECK(static_cast<double>(r - bytes) <= 0.25 * static_cast<double>(bytes));
  }
}

TEST_CASE("caching allocator: freed blocks are reused, counted, and returned by empty_cache") {
  std::size_t live = 0;
  CachingAllocator a(std::make_unique<FakeRaw>(&live));
  void* p = a.allocate(1000);
  void* q = a.allocate(100000);
  CHECK(a.stats().system_allocations == 2);
  CHECK(a.stats().bytes_in_use == static_cast<std::int64_t>(1024 + CachingAllocator::round_size(100000)));
  a.deallocate(p, 1000);
  CHECK(a.stats().bytes_cached == 1024);
  CHECK(a.allocate(990) == p);  // the same class
  CHECK(a.stats().cache_hits == 1);
  CHECK(a.stats().system_allocations == 2);
  a.deallocate(p, 990);
  a.deallocate(q, 100000);
  CHECK(a.stats().bytes_in_use == 0);
  CHECK(a.stats().peak_bytes_in_use == static_cast<std::int64_t>(1024 + CachingAllocator::round_size(100000)));
  a.reset_peak();
  CHECK(a.stats().peak_bytes_in_use == 0);
  CHECK(live > 0);
  a.empty_cache();
  CHECK(live == 0);
  CHECK(a.stats().bytes_cached == 0);
}

TEST_CASE("caching allocator: out of memory frees the cache and retries, then names the sizes") {
  std::size_t live = 0;
  CachingAllocator a(std::make_unique<FakeRaw>(&live, 4096));
  void* p = a.allocate(3000);
  a.deallocate(p, 3000);
  void* q = a.allocate(4000);  // does not fit beside the cached 3 KiB block: the cache goes first
  CHECK(q != nullptr);
  CHECK(a.stats().bytes_cached == 0);
  REQUIRE_THROWS_WITH(a.allocate(4000), Catch::Contains("out of memory allocating 4096 bytes") &&
                                            Catch::Contains("4096 bytes in use"));
  a.deallocate(q, 4000);
}

TEST_CASE("caching allocator: the cache limit gives blocks back") {
  std::size_t live = 0;
  CachingAllocator a(std::make_unique<FakeRaw>(&live), 2048);
  std::vector<void*> blocks;
  for (int i = 0; i < 3; ++i) blocks.push_back(a.allocate(1024));
  for (void* b : blocks) a.deallocate(b, 1024);
  CHECK(a.stats().bytes_cached <= 2048);
  CHECK(live == static_cast<std::size_t>(a.stats().bytes_cached));
}

TEST_CASE("caching allocator: a freed block is handed out again only on its own stream") {
  std::size_t live = 0;
  FakeEvents events;
  CachingAllocator a(std::make_unique<FakeRaw>(&live), std::size_t{1} << 30, &events);
  void* on_1 = a.allocate(5000, 1);
  a.deallocate(on_1, 5000);
  void* on_2 = a.allocate(5000, 2);
  CHECK(on_2 != on_1);              // another stream's work may still be using on_1
  CHECK(a.allocate(5000, 1) == on_1);  // its own stream runs in order: safe at once
  void* on_0 = a.allocate(5000, 0);
  CHECK(on_0 != on_1);
  CHECK(on_0 != on_2);
  a.deallocate(on_0, 5000);
  CHECK(a.allocate(5000, 0) == on_0);
  CHECK(a.stats().bytes_in_use == 3 * static_cast<std::int64_t>(CachingAllocator::round_size(5000)));
}

TEST_CASE("caching allocator: a block used on another stream waits for that stream's work") {
  std::size_t live = 0;
  FakeEvents events;
  CachingAllocator a(std::make_unique<FakeRaw>(&live), std::size_t{1} << 30, &events);
  const std::size_t size = CachingAllocator::round_size(300);
  void* p = a.allocate(300, 0);
  a.record_stream(p, 7);  // e.g. a copy queued on stream 7 reads it
  a.record_stream(p, 7);  // recorded once
  a.record_stream(p, 0);  // its own stream: nothing to wait for
  events.queue_work(7);
  a.deallocate(p, 300);
  CHECK(events.live_events() == 1);
  CHECK(a.stats().bytes_awaiting_streams == static_cast<std::int64_t>(size));
  CHECK(a.stats().bytes_cached == 0);

  void* q = a.allocate(300, 0);
  CHECK(q != p);  // stream 7 has not finished with p
  a.empty_cache();
  CHECK(a.stats().bytes_awaiting_streams == static_cast<std::int64_t>(size));  // empty_cache leaves it too

  events.finish_work(7);
  void* r = a.allocate(300, 0);
  CHECK(r == p);  // collected once its event completed, back on its own stream's list
  CHECK(events.live_events() == 0);
  CHECK(a.stats().bytes_awaiting_streams == 0);
  a.deallocate(q, 300);
  a.deallocate(r, 300);
}

TEST_CASE("caching allocator: without events (synchronous devices) recorded streams free at once") {
  std::size_t live = 0;
  CachingAllocator a(std::make_unique<FakeRaw>(&live));
  void* p = a.allocate(300, 3);
  a.record_stream(p, 4);
  a.deallocate(p, 300);
  CHECK(a.stats().bytes_awaiting_streams == 0);
  CHECK(a.allocate(300, 3) == p);
  a.deallocate(p, 300);
  a.empty_cache();
  CHECK(live == 0);
}

// A captured graph's private pool (tensor/graph.hpp): its memory is fresh, serves only the
// pool, is never handed to an ordinary allocation while the pool lives, and joins the cache of
// the stream its graph last ran on when the pool is released, blocks still in use when freed.
TEST_CASE("caching allocator: a private pool keeps its memory until it is released") {
  std::size_t live = 0;
  CachingAllocator alloc(std::make_unique<FakeRaw>(&live));
  void* cached = alloc.allocate(1000);
  alloc.deallocate(cached, 1000);  // a free block of the class, in the ordinary cache
  const auto pool = alloc.create_pool();
  void* a = alloc.allocate_in_pool(1000, pool);
  CHECK(a != cached);  // a pool takes fresh memory only
  void* b = alloc.allocate_in_pool(1000, pool);
  alloc.deallocate(a, 1000);
  CHECK(alloc.allocate_in_pool(1000, pool) == a);  // reused inside the pool
  alloc.deallocate(a, 1000);
  // Ordinary allocations never get the pool's blocks, free or not.
  std::set<void*> ordinary;
  for (int i = 0; i < 4; ++i) ordinary.insert(alloc.allocate(1000));
  CHECK(ordinary.count(a) == 0);
  CHECK(ordinary.count(b) == 0);
  for (void* p : ordinary) alloc.deallocate(p, 1000);
  const MemoryStats before = alloc.stats();
  CHECK(before.bytes_in_use == 1024);  // b
  alloc.release_pool(pool, 0);
  CHECK(alloc.allocate(1000) == a);  // the free block joined stream 0's cache (last in, first out)
  alloc.deallocate(b, 1000);         // b was in use: it follows when freed
  CHECK(alloc.allocate(1000) == b);
  CHECK_THROWS_WITH(alloc.allocate_in_pool(64, pool), Catch::Contains("memory pool"));
  // While a capture is under way, nothing goes back to the raw allocator (cudaFree is not allowed).
  CachingAllocator small(std::make_unique<FakeRaw>(&live), 2048);
  small.set_capturing(true);
  void* x = small.allocate(2048);
  void* y = small.allocate(2048);
  small.deallocate(x, 2048);
  small.deallocate(y, 2048);
  CHECK(small.stats().bytes_cached == 4096);  // above the limit, kept
  small.set_capturing(false);
  small.empty_cache();
  CHECK(small.stats().bytes_cached == 0);
}
