// The object pool (tensor/object_pool.hpp): a freed block is reused by its thread, and a thread
// that frees blocks another thread made (the trainer's thread and the data pipeline's batches)
// keeps no more of them than it ever had in use at once, instead of collecting them without end.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>
#include <vector>

#include "tensor/object_pool.hpp"

using namespace mttt;

namespace {

// Address-sanitizer builds bypass the pool (so that a use after free is reported): skipped there.
void require_pool() {
#if defined(__SANITIZE_ADDRESS__)
  std::exit(77);
#endif
}

}  // namespace

TEST_CASE("a block freed on its thread is given out again for the same size class") {
  require_pool();
  void* a = pool::allocate(48);
  const std::size_t cached = pool::cached_bytes();
  pool::deallocate(a, 48);
  CHECK(pool::cached_bytes() == cached + 64);  // the 64-byte class
  void* b = pool::allocate(64);
  CHECK(b == a);
  CHECK(pool::cached_bytes() == cached);
  pool::deallocate(b, 64);
}

TEST_CASE("a thread freeing what another thread made keeps at most its own peak of blocks") {
  require_pool();
  constexpr std::size_t kBytes = 96, kOwn = 8, kMade = 64;
  // This thread's own use: kOwn blocks at once, then freed, so its list may hold kOwn.
  std::vector<void*> own;
  for (std::size_t i = 0; i < kOwn; ++i) own.push_back(pool::allocate(kBytes));
  for (void* p : own) pool::deallocate(p, kBytes);
  const std::size_t warm = pool::cached_bytes();
  for (int round = 0; round < 200; ++round) {
    std::vector<void*> made;
    std::thread producer([&] {
      for (std::size_t i = 0; i < kMade; ++i) made.push_back(pool::allocate(kBytes));
    });
    producer.join();
    own.clear();
    for (std::size_t i = 0; i < kOwn / 2; ++i) own.push_back(pool::allocate(kBytes));  // this thread's step
    for (void* p : made) pool::deallocate(p, kBytes);
    for (void* p : own) pool::deallocate(p, kBytes);
    INFO("round " << round);
    REQUIRE(pool::cached_bytes() == warm);
  }
}
