#include "nn/data/augment/mixup.hpp"

#include <algorithm>

#include "tensor/error.hpp"

namespace mttt::nn::data {

double sample_mixup_weight(double alpha, RandomStream& rng) {
  check(alpha > 0, "mixup", "the Beta concentration must be positive, got {}", alpha);
  const double l = rng.beta(alpha, alpha);
  return std::max(l, 1.0 - l);
}

void mixup_rows(float* rows, std::int64_t batch, std::int64_t row_size, double weight, const float* first_partner) {
  if (batch < 1 || (batch < 2 && !first_partner)) return;
  const float a = static_cast<float>(weight), b = static_cast<float>(1.0 - weight);
  // Row 0's partner, alone, is the last row as it was before mixing.
  std::vector<float> last;
  if (!first_partner) last.assign(rows + (batch - 1) * row_size, rows + batch * row_size);
  for (std::int64_t i = batch - 1; i >= 0; --i) {
    float* x = rows + i * row_size;
    const float* partner = i > 0 ? x - row_size : first_partner ? first_partner : last.data();
    for (std::int64_t k = 0; k < row_size; ++k) x[k] = a * x[k] + b * partner[k];
  }
}

std::vector<float> mixup_labels(const std::vector<std::int64_t>& labels, std::int64_t classes, double weight,
                                std::int64_t first_partner) {
  const auto batch = static_cast<std::int64_t>(labels.size());
  const float a = static_cast<float>(weight), b = static_cast<float>(1.0 - weight);
  std::vector<float> soft(static_cast<std::size_t>(batch * classes), 0.0f);
  for (std::int64_t i = 0; i < batch; ++i) {
    const std::int64_t partner =
        i == 0 && first_partner >= 0 ? first_partner : labels[static_cast<std::size_t>((i + batch - 1) % batch)];
    const std::int64_t own = labels[static_cast<std::size_t>(i)];
    check(own >= 0 && own < classes && partner >= 0 && partner < classes, "mixup", "label {} outside [0, {})",
          own < 0 || own >= classes ? own : partner, classes);
    soft[i * classes + own] += a;
    soft[i * classes + partner] += b;
  }
  return soft;
}

}  // namespace mttt::nn::data
