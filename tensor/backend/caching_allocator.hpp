// A caching allocator: freed blocks are kept in per-size free lists and handed out again, so
// that a training step allocates from the system only in its first iteration. Written against
// an injectable raw allocator, so that the same logic serves host memory and device memory
// and is unit-tested on the host.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace mttt {

class RawAllocator {
 public:
  virtual ~RawAllocator() = default;
  // Returns null when out of memory.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* pointer, std::size_t bytes) = 0;
};

struct MemoryStats {
  std::int64_t bytes_in_use = 0;       // handed out and not yet returned (rounded sizes)
  std::int64_t peak_bytes_in_use = 0;
  std::int64_t bytes_cached = 0;       // returned, held for reuse
  std::int64_t system_allocations = 0; // calls to the raw allocator
  std::int64_t cache_hits = 0;
};

class CachingAllocator {
 public:
  // Cached bytes above `cache_limit` are given back to the raw allocator.
  explicit CachingAllocator(std::unique_ptr<RawAllocator> raw, std::size_t cache_limit = std::size_t{2} << 30);
  ~CachingAllocator();

  void* allocate(std::size_t bytes);
  void deallocate(void* pointer, std::size_t bytes);
  MemoryStats stats() const;
  void reset_peak();
  void empty_cache();

  // Sizes are rounded to a class: multiples of 64 bytes up to 1 KiB, then four classes per
  // power of two (at most 25% unused).
  static std::size_t round_size(std::size_t bytes);

 private:
  void release_cached_locked();
  // The free list of a rounded size: small classes (every tensor of a scalar loop) are indexed
  // directly, without hashing.
  std::vector<void*>& free_list(std::size_t size);

  static constexpr std::size_t kSmallClasses = 1024 / 64;

  std::unique_ptr<RawAllocator> raw_;
  std::size_t cache_limit_;
  mutable std::mutex mutex_;
  std::array<std::vector<void*>, kSmallClasses> small_free_;  // 64, 128, ..., 1024 bytes
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  MemoryStats stats_;
};

}  // namespace mttt
