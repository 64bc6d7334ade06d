// A caching allocator: freed blocks are kept in per-size free lists and handed out again, so
// that a training step allocates from the system only in its first iteration. Written against
// an injectable raw allocator and injectable stream events, so that the same logic serves host
// memory and device memory and is unit-tested on the host.
//
// Streams (as CUDA's, and as PyTorch's allocator treats them): a block belongs to the stream it
// was allocated on, and a freed block is handed out again only on that stream, where queued work
// runs in order, so the next user cannot overtake the last one. A block that work on other
// streams also used (record_stream) is held back when freed until an event recorded on each of
// those streams has completed. Host devices run their work synchronously: everything is on
// stream 0 unless a caller says otherwise, and their events complete at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/device_stats.hpp"

namespace mttt {

// A device's queue of work; 0 is the default stream (on CUDA, the cudaStream_t as an integer).
using StreamId = std::uint64_t;

class RawAllocator {
 public:
  virtual ~RawAllocator() = default;
  // Returns null when out of memory.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* pointer, std::size_t bytes) = 0;
};

// Events on streams (CUDA: cudaEventRecord and cudaEventQuery).
class StreamEvents {
 public:
  virtual ~StreamEvents() = default;
  // An event that completes once the work queued on `stream` so far is done.
  virtual std::uint64_t record(StreamId stream) = 0;
  virtual bool completed(std::uint64_t event) = 0;
  virtual void release(std::uint64_t event) = 0;
};

class CachingAllocator {
 public:
  // Cached bytes above `cache_limit` are given back to the raw allocator. `events` (not owned;
  // it must outlive the allocator) may be null where work is synchronous: a block used on
  // other streams is then free once returned.
  explicit CachingAllocator(std::unique_ptr<RawAllocator> raw, std::size_t cache_limit = std::size_t{2} << 30,
                            StreamEvents* events = nullptr);
  ~CachingAllocator();

  void* allocate(std::size_t bytes, StreamId stream = 0);
  void deallocate(void* pointer, std::size_t bytes);

  // Private pools, one per captured graph (tensor/graph.hpp), as PyTorch's graph pools: a
  // graph's kernels read and write the addresses its capture saw, on every replay, so memory it
  // was given is never handed to anything else while it lives. allocate_in_pool() serves a
  // capture; a block of a pool freed at any time goes back to that pool only;
  // release_pool() (the graph is gone) hands the pool's free blocks to `stream`'s free lists
  // (where its last replay ran, so that they are reused after it), and its blocks still in use
  // follow when they are freed.
  using PoolId = std::uint64_t;
  PoolId create_pool();
  void* allocate_in_pool(std::size_t bytes, PoolId pool);
  void release_pool(PoolId pool, StreamId stream);
  // While a capture is under way the allocator neither queries events nor gives memory back to
  // the raw allocator (cudaEventQuery and cudaFree are not allowed during a CUDA stream capture).
  void set_capturing(bool capturing);
  // Work queued on `stream` uses the block at `pointer` (allocated on another stream).
  void record_stream(void* pointer, StreamId stream);
  MemoryStats stats() const;
  void reset_peak();
  // Gives every cached block back to the raw allocator (blocks still awaiting streams stay).
  void empty_cache();

  // Sizes are rounded to a class: multiples of 64 bytes up to 1 KiB, then four classes per
  // power of two (at most 25% unused).
  static std::size_t round_size(std::size_t bytes);

 private:
  // What the allocator knows of a live block beyond its pointer and size: kept only for blocks
  // of a non-default stream or used on other streams, so that single-stream use (every host
  // device) pays one emptiness check.
  struct StreamUse {
    StreamId stream = 0;             // allocated on
    std::vector<StreamId> used_on;   // other streams whose work uses it
  };
  struct Awaiting {
    void* pointer;
    std::size_t size;
    StreamId stream;
    std::vector<std::uint64_t> events;
  };

  void release_cached_locked();
  // Moves blocks whose streams are done from the awaiting list to their free lists.
  void collect_completed_locked();
  void cache_locked(void* pointer, std::size_t size, StreamId stream);
  // The free list of a rounded size on a stream: the default stream's small classes (every
  // tensor of a scalar loop) are indexed directly, without hashing.
  std::vector<void*>& free_list(std::size_t size, StreamId stream);
  // The last block of `list` (of `size` bytes) counted out of the cache; null when it is empty.
  void* take_cached_locked(std::vector<void*>& list, std::size_t size);

  static constexpr std::size_t kSmallClasses = 1024 / 64;

  struct Pool {
    std::unordered_map<std::size_t, std::vector<void*>> free;
    std::int64_t live = 0;          // blocks handed out and not yet returned
    bool released = false;          // its graph is gone
    StreamId release_stream = 0;
  };

  std::unique_ptr<RawAllocator> raw_;
  StreamEvents* events_;
  std::size_t cache_limit_;
  mutable std::mutex mutex_;
  std::array<std::vector<void*>, kSmallClasses> small_free_;  // stream 0: 64, 128, ..., 1024 bytes
  std::unordered_map<std::size_t, std::vector<void*>> free_;  // stream 0, larger sizes
  std::map<std::pair<StreamId, std::size_t>, std::vector<void*>> stream_free_;  // other streams
  std::unordered_map<void*, StreamUse> stream_use_;
  std::vector<Awaiting> awaiting_;
  std::unordered_map<PoolId, Pool> pools_;
  std::unordered_map<void*, PoolId> pool_of_;  // every block a pool holds, in use or free
  PoolId last_pool_ = 0;
  int captures_underway_ = 0;
  MemoryStats stats_;
};

}  // namespace mttt
