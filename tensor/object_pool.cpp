#include "tensor/object_pool.hpp"

#include <new>

namespace mttt::pool {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

constexpr std::size_t kClasses = kMaxBytes / kGranule;

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so that it can still be read while the thread's other thread_local
// objects are destroyed (a static tensor may be freed after that).
// Per size class: the blocks cached, the blocks this thread has taken and not given back
// (never below 0: blocks made by other threads also come back here), and the most of those
// at once. A list holds at most `peak` blocks: a thread that frees what another thread made
// (a consumer of a producer's tensors) would otherwise collect them without end.
struct Lists {
  FreeBlock* head[kClasses];
  std::size_t cached[kClasses];
  std::size_t in_use[kClasses];
  std::size_t peak[kClasses];
  std::size_t cached_bytes;
  bool closer_registered;
  bool closed;
};
thread_local Lists t_lists{};

// Not inlined, so that a call looks the thread_local up once: GCC repeats the lookup (a
// call, in a shared library) at every access otherwise.
[[gnu::noinline]] Lists& thread_lists() { return t_lists; }

// Gives every cached block back at thread exit, then sends later frees straight to the system.
struct Closer {
  ~Closer() {
    Lists& lists = t_lists;
    for (std::size_t c = 0; c < kClasses; ++c)
      while (FreeBlock* block = lists.head[c]) {
        lists.head[c] = block->next;
        ::operator delete(block);
      }
    lists.cached_bytes = 0;
    for (std::size_t c = 0; c < kClasses; ++c) lists.cached[c] = 0;
    lists.closed = true;
  }
};
thread_local Closer t_closer;

std::size_t size_class(std::size_t bytes) { return (bytes + kGranule - 1) / kGranule - 1; }

}  // namespace

void* allocate(std::size_t bytes) {
  if (!kPooled || bytes == 0 || bytes > kMaxBytes) return ::operator new(bytes);
  const std::size_t c = size_class(bytes);
  Lists& lists = thread_lists();
  if (++lists.in_use[c] > lists.peak[c]) lists.peak[c] = lists.in_use[c];
  if (FreeBlock* block = lists.head[c]) {
    lists.head[c] = block->next;
    --lists.cached[c];
    lists.cached_bytes -= (c + 1) * kGranule;
    return block;
  }
  return ::operator new((c + 1) * kGranule);
}

void deallocate(void* pointer, std::size_t bytes) noexcept {
  if (!pointer) return;
  if (!kPooled || bytes == 0 || bytes > kMaxBytes) {
    ::operator delete(pointer);
    return;
  }
  const std::size_t c = size_class(bytes), size = (c + 1) * kGranule;
  Lists& lists = thread_lists();
  if (lists.in_use[c] > 0) --lists.in_use[c];
  if (lists.closed || lists.cached[c] >= lists.peak[c] || lists.cached_bytes + size > kMaxCachedBytes) {
    ::operator delete(pointer);
    return;
  }
  if (!lists.closer_registered) {
    // The first use of a thread_local with a destructor registers that destructor.
    static_cast<void>(&t_closer);
    lists.closer_registered = true;
  }
  auto* block = static_cast<FreeBlock*>(pointer);
  block->next = lists.head[c];
  lists.head[c] = block;
  ++lists.cached[c];
  lists.cached_bytes += size;
}

std::size_t cached_bytes() { return thread_lists().cached_bytes; }

}  // namespace mttt::pool
