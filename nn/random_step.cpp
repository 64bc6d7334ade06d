#include "nn/random_step.hpp"

namespace mttt::nn {

namespace {
thread_local std::optional<std::pair<std::uint64_t, std::uint64_t>> t_step;
}

RandomStep::RandomStep(std::uint64_t stream, std::uint64_t step) : previous_(t_step) { t_step = {{stream, step}}; }
RandomStep::~RandomStep() { t_step = previous_; }
std::optional<std::pair<std::uint64_t, std::uint64_t>> RandomStep::current() { return t_step; }

}  // namespace mttt::nn
