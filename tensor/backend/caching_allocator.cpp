#include "tensor/backend/caching_allocator.hpp"

#include <algorithm>
#include <bit>

#include "tensor/error.hpp"

namespace mttt {

CachingAllocator::CachingAllocator(std::unique_ptr<RawAllocator> raw, std::size_t cache_limit,
                                   StreamEvents* events)
    : raw_(std::move(raw)), events_(events), cache_limit_(cache_limit) {}

CachingAllocator::~CachingAllocator() {
  // At exit the device's queued work no longer matters: everything goes back.
  for (Awaiting& a : awaiting_) {
    for (std::uint64_t e : a.events) events_->release(e);
    raw_->deallocate(a.pointer, a.size);
  }
  awaiting_.clear();
  empty_cache();
}

std::size_t CachingAllocator::round_size(std::size_t bytes) {
  if (bytes <= 1024) return std::max<std::size_t>(64, (bytes + 63) / 64 * 64);
  std::size_t step = std::bit_floor(bytes) / 4;
  return (bytes + step - 1) / step * step;
}

std::vector<void*>& CachingAllocator::free_list(std::size_t size, StreamId stream) {
  if (stream != 0) return stream_free_[{stream, size}];
  return size <= kSmallClasses * 64 ? small_free_[size / 64 - 1] : free_[size];
}

void* CachingAllocator::take_cached_locked(std::vector<void*>& list, std::size_t size) {
  if (list.empty()) return nullptr;
  void* pointer = list.back();
  list.pop_back();
  stats_.bytes_cached -= static_cast<std::int64_t>(size);
  stats_.cache_hits += 1;
  return pointer;
}

void* CachingAllocator::allocate(std::size_t bytes, StreamId stream) {
  std::size_t size = round_size(bytes);
  std::lock_guard lock(mutex_);
  if (!awaiting_.empty() && captures_underway_ == 0) collect_completed_locked();
  void* pointer = take_cached_locked(free_list(size, stream), size);
  if (!pointer) {
    pointer = raw_->allocate(size);
    if (!pointer && captures_underway_ == 0) {
      release_cached_locked();
      pointer = raw_->allocate(size);
    }
    if (!pointer)
      fail("allocate", "out of memory allocating {} bytes ({} bytes in use, {} cached, {} awaiting other streams)",
           size, stats_.bytes_in_use, stats_.bytes_cached, stats_.bytes_awaiting_streams);
    stats_.system_allocations += 1;
  }
  if (stream != 0) stream_use_[pointer] = StreamUse{stream, {}};
  stats_.bytes_in_use += static_cast<std::int64_t>(size);
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return pointer;
}

void CachingAllocator::record_stream(void* pointer, StreamId stream) {
  if (!pointer) return;
  std::lock_guard lock(mutex_);
  StreamUse& use = stream_use_[pointer];  // a block of stream 0 gets its entry here
  if (stream != use.stream && std::find(use.used_on.begin(), use.used_on.end(), stream) == use.used_on.end())
    use.used_on.push_back(stream);
}

void CachingAllocator::deallocate(void* pointer, std::size_t bytes) {
  if (!pointer) return;
  std::size_t size = round_size(bytes);
  std::lock_guard lock(mutex_);
  stats_.bytes_in_use -= static_cast<std::int64_t>(size);
  if (!pool_of_.empty()) {
    auto owner = pool_of_.find(pointer);
    if (owner != pool_of_.end()) {
      if (!stream_use_.empty()) stream_use_.erase(pointer);
      auto pool = pools_.find(owner->second);
      pool->second.live -= 1;
      if (!pool->second.released) {
        pool->second.free[size].push_back(pointer);
        stats_.bytes_cached += static_cast<std::int64_t>(size);
        return;
      }
      const StreamId stream = pool->second.release_stream;
      pool_of_.erase(owner);
      if (pool->second.live == 0) pools_.erase(pool);
      cache_locked(pointer, size, stream);
      return;
    }
  }
  StreamUse use;
  if (!stream_use_.empty()) {
    auto it = stream_use_.find(pointer);
    if (it != stream_use_.end()) {
      use = std::move(it->second);
      stream_use_.erase(it);
    }
  }
  if (use.used_on.empty() || !events_) {
    cache_locked(pointer, size, use.stream);
    return;
  }
  Awaiting waiting{pointer, size, use.stream, {}};
  for (StreamId other : use.used_on) waiting.events.push_back(events_->record(other));
  awaiting_.push_back(std::move(waiting));
  stats_.bytes_awaiting_streams += static_cast<std::int64_t>(size);
}

void CachingAllocator::cache_locked(void* pointer, std::size_t size, StreamId stream) {
  free_list(size, stream).push_back(pointer);
  stats_.bytes_cached += static_cast<std::int64_t>(size);
  if (static_cast<std::size_t>(stats_.bytes_cached) > cache_limit_ && captures_underway_ == 0) release_cached_locked();
}

CachingAllocator::PoolId CachingAllocator::create_pool() {
  std::lock_guard lock(mutex_);
  pools_[++last_pool_];
  return last_pool_;
}

void* CachingAllocator::allocate_in_pool(std::size_t bytes, PoolId pool_id) {
  std::size_t size = round_size(bytes);
  std::lock_guard lock(mutex_);
  auto found = pools_.find(pool_id);
  if (found == pools_.end() || found->second.released) fail("allocate", "memory pool {} does not exist", pool_id);
  Pool& pool = found->second;
  void* pointer = take_cached_locked(pool.free[size], size);
  if (!pointer) {
    // A block of the general cache would do, but a stream's cached block may still be used by
    // work queued there: a pool takes only fresh memory.
    pointer = raw_->allocate(size);
    if (!pointer)
      fail("allocate", "out of memory allocating {} bytes for a graph's pool ({} bytes in use, {} cached)", size,
           stats_.bytes_in_use, stats_.bytes_cached);
    stats_.system_allocations += 1;
    pool_of_[pointer] = pool_id;
  }
  pool.live += 1;
  stats_.bytes_in_use += static_cast<std::int64_t>(size);
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return pointer;
}

void CachingAllocator::release_pool(PoolId pool_id, StreamId stream) {
  std::lock_guard lock(mutex_);
  auto found = pools_.find(pool_id);
  if (found == pools_.end()) return;
  Pool& pool = found->second;
  pool.released = true;
  pool.release_stream = stream;
  for (auto& [size, pointers] : pool.free)
    for (void* p : pointers) {
      pool_of_.erase(p);
      stats_.bytes_cached -= static_cast<std::int64_t>(size);
      cache_locked(p, size, stream);
    }
  pool.free.clear();
  if (pool.live == 0) pools_.erase(found);
}

void CachingAllocator::set_capturing(bool capturing) {
  std::lock_guard lock(mutex_);
  captures_underway_ += capturing ? 1 : -1;
}

void CachingAllocator::collect_completed_locked() {
  std::vector<Awaiting> still;
  for (Awaiting& a : awaiting_) {
    const bool done = std::all_of(a.events.begin(), a.events.end(), [&](std::uint64_t e) { return events_->completed(e); });
    if (!done) {
      still.push_back(std::move(a));
      continue;
    }
    for (std::uint64_t e : a.events) events_->release(e);
    stats_.bytes_awaiting_streams -= static_cast<std::int64_t>(a.size);
    cache_locked(a.pointer, a.size, a.stream);
  }
  awaiting_ = std::move(still);
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

void CachingAllocator::empty_cache() {
  std::lock_guard lock(mutex_);
  if (!awaiting_.empty()) collect_completed_locked();
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (std::size_t c = 0; c < kSmallClasses; ++c) {
    for (void* p : small_free_[c]) raw_->deallocate(p, (c + 1) * 64);
    small_free_[c].clear();
  }
  for (auto& [size, pointers] : free_)
    for (void* p : pointers) raw_->deallocate(p, size);
  free_.clear();
  for (auto& [key, pointers] : stream_free_)
    for (void* p : pointers) raw_->deallocate(p, key.second);
  stream_free_.clear();
  stats_.bytes_cached = 0;
}

}  // namespace mttt
