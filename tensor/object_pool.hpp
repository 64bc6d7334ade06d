// Per-thread free lists for the small objects that the tape makes and drops by the thousand:
// tensor handles, storages, tape nodes, saved-value lists. A long chain is built and then torn
// down at once; through malloc that pattern costs more than the ops themselves (free chunks
// are coalesced, then split again on the next pass). Here a freed block waits on its thread's
// list for the next object of its size class.
//
//   auto node = pool::make_shared<FunctionNode<...>>(args...);   // std::allocate_shared
//   std::vector<Saved, pool::Allocator<Saved>> saved;            // small vectors too
//
// Blocks are taken from and given back to the calling thread's lists, so no lock is taken; a
// block freed by another thread than the one that made it joins that thread's lists. A list
// holds at most as many blocks as its thread has had in use at once (so a thread that frees
// what another made, the trainer's thread and the data pipeline's batches, does not collect
// them step after step), and each thread keeps at most kMaxCachedBytes; what is over goes back
// to the system, as does everything at thread exit. Address-sanitizer builds bypass the lists,
// so that a use after free is still reported.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace mttt::pool {

inline constexpr std::size_t kGranule = 32;          // size classes: 32, 64, ... bytes
inline constexpr std::size_t kMaxBytes = 512;        // larger requests go to operator new
inline constexpr std::size_t kMaxCachedBytes = std::size_t{32} << 20;  // per thread

// Blocks are aligned as operator new's (16 bytes).
void* allocate(std::size_t bytes);
void deallocate(void* pointer, std::size_t bytes) noexcept;
// The bytes the calling thread's lists hold (0 in address-sanitizer builds).
std::size_t cached_bytes();

template <class T> struct Allocator {
  using value_type = T;
  static_assert(alignof(T) <= alignof(std::max_align_t), "pool blocks are aligned as operator new's");

  Allocator() = default;
  template <class U> Allocator(const Allocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(pool::allocate(n * sizeof(T))); }
  void deallocate(T* pointer, std::size_t n) noexcept { pool::deallocate(pointer, n * sizeof(T)); }

  template <class U> friend bool operator==(const Allocator&, const Allocator<U>&) { return true; }
};

template <class T, class... Args> std::shared_ptr<T> make_shared(Args&&... args) {
  return std::allocate_shared<T>(Allocator<T>(), std::forward<Args>(args)...);
}

}  // namespace mttt::pool
