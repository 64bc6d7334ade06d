#include "tensor/backend/caching_allocator.hpp"

#include <bit>

#include "tensor/error.hpp"

namespace mttt {

CachingAllocator::CachingAllocator(std::unique_ptr<RawAllocator> raw, std::size_t cache_limit)
    : raw_(std::move(raw)), cache_limit_(cache_limit) {}

CachingAllocator::~CachingAllocator() { empty_cache(); }

std::size_t CachingAllocator::round_size(std::size_t bytes) {
  if (bytes <= 1024) return std::max<std::size_t>(64, (bytes + 63) / 64 * 64);
  std::size_t step = std::bit_floor(bytes) / 4;
  return (bytes + step - 1) / step * step;
}

std::vector<void*>& CachingAllocator::free_list(std::size_t size) {
  return size <= kSmallClasses * 64 ? small_free_[size / 64 - 1] : free_[size];
}

void* CachingAllocator::allocate(std::size_t bytes) {
  std::size_t size = round_size(bytes);
  std::lock_guard lock(mutex_);
  void* pointer = nullptr;
  std::vector<void*>& list = free_list(size);
  if (!list.empty()) {
    pointer = list.back();
    list.pop_back();
    stats_.bytes_cached -= static_cast<std::int64_t>(size);
    stats_.cache_hits += 1;
  } else {
    pointer = raw_->allocate(size);
    if (!pointer) {
      release_cached_locked();
      pointer = raw_->allocate(size);
    }
    if (!pointer)
      fail("allocate", "out of memory allocating {} bytes ({} bytes in use, {} cached)", size, stats_.bytes_in_use,
           stats_.bytes_cached);
    stats_.system_allocations += 1;
  }
  stats_.bytes_in_use += static_cast<std::int64_t>(size);
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return pointer;
}

void CachingAllocator::deallocate(void* pointer, std::size_t bytes) {
  if (!pointer) return;
  std::size_t size = round_size(bytes);
  std::lock_guard lock(mutex_);
  stats_.bytes_in_use -= static_cast<std::int64_t>(size);
  free_list(size).push_back(pointer);
  stats_.bytes_cached += static_cast<std::int64_t>(size);
  if (static_cast<std::size_t>(stats_.bytes_cached) > cache_limit_) release_cached_locked();
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
  stats_.bytes_cached = 0;
}

}  // namespace mttt
