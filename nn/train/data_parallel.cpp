#include "nn/train/data_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "nn/optim/optimizer.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

namespace {

// FNV-1a, 64 bits: a fingerprint short enough to print, the same on every machine.
std::string fingerprint(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return fmt::format("{:016x}", h);
}

// A contiguous copy a collective may overwrite.
Tensor fresh_copy(const Tensor& t) {
  Tensor copy = Tensor::empty(t.shape(), t.dtype(), t.device());
  copy_(copy, t.detach());
  return copy;
}

int first_nonzero(const std::vector<std::string>& all) {
  for (const std::string& b : all)
    if (const int s = std::stoi(b); s != 0) return s;
  return 0;
}

}  // namespace

std::int64_t rank_batch_size(const TrainConfig& c, int ranks) {
  check(ranks >= 1, "distributed", "{} ranks: expected at least 1", ranks);
  check(c.run.batch_size % ranks == 0, "config",
        "run.batch_size {} (the global batch) does not divide among {} ranks: choose a multiple of {}",
        c.run.batch_size, ranks, ranks);
  const std::int64_t per_rank = c.run.batch_size / ranks;
  check(per_rank % c.run.accumulation == 0, "config",
        "run.batch_size {} on {} ranks is {} rows per rank, which do not split into run.accumulation {} equal "
        "micro-batches",
        c.run.batch_size, ranks, per_rank, c.run.accumulation);
  return per_rank;
}

std::int64_t rank_eval_batch_size(const TrainConfig& c, int ranks) {
  return (c.run.eval_batch_size + ranks - 1) / ranks;
}

const std::vector<std::string>& per_rank_config_keys() {
  static const std::vector<std::string> keys = {"data.root", "data.threads", "run.device"};
  return keys;
}

int ranks_on_this_machine(int ranks) {
  for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char* value = std::getenv(variable); value && std::atoi(value) > 0) return std::atoi(value);
  return ranks;
}

DataParallel::DataParallel(std::shared_ptr<distributed::Communicator> comm)
    : comm_(comm ? std::move(comm) : std::shared_ptr<distributed::Communicator>(distributed::single_process())) {}

void DataParallel::require_same_run(const TrainConfig& config, const ViT& model, const Datasets& data) {
  if (size() == 1) return;
  nlohmann::json shared = config.json;
  for (const std::string& key : per_rank_config_keys()) {
    const auto dot = key.find('.');
    if (shared.contains(key.substr(0, dot))) shared[key.substr(0, dot)].erase(key.substr(dot + 1));
  }
  distributed::require_agreement(*comm_, "the config (a hash of it, without " +
                                             fmt::format("{}", fmt::join(per_rank_config_keys(), ", ")) + ")",
                                 fingerprint(shared.dump()));
  std::string parameters;
  for (const auto& [name, t] : model.named_parameters())
    parameters += fmt::format("{} {} {};", name, to_string(t.shape()), to_string(t.dtype()));
  distributed::require_agreement(*comm_, "the model's parameter names and shapes (a hash of them)", fingerprint(parameters));
  distributed::require_agreement(
      *comm_, "the data sets' sizes",
      fmt::format("{} training and {} evaluation examples of {} classes", data.train ? data.train->num_examples() : 0,
                  data.eval->num_examples(), data.classes));
}

void DataParallel::broadcast_parameters(ViT& model) {
  if (size() == 1) return;
  NoGrad no_grad;
  for (auto& [name, p] : model.named_parameters()) {
    if (p.is_contiguous()) {
      comm_->broadcast(p, 0);
      continue;
    }
    Tensor staged = fresh_copy(p);  // a layout collectives do not take
    comm_->broadcast(staged, 0);
    copy_(p, staged);
  }
}

void DataParallel::broadcast_training_state(Optimizer& optimizer, std::int64_t& step, std::int64_t& skipped) {
  if (size() == 1) return;
  NoGrad no_grad;
  // The other ranks' optimisers have taken no step: their slots may not exist yet. Rank 0 says
  // which tensors its state holds; the others receive them into fresh ones.
  nlohmann::json layout = nlohmann::json::array();
  NamedTensors state = optimizer.state();
  for (const auto& [name, t] : state)
    layout.push_back({name, t.shape().vec(), std::string(to_string(t.dtype())), to_string(t.device())});
  layout = nlohmann::json::parse(comm_->all_gather(layout.dump())[0]);
  NamedTensors received;
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const std::string name = layout[i][0].get<std::string>();
    Tensor t;
    if (is_root()) {
      t = fresh_copy(state[i].second);  // state() may hand out the optimiser's own tensors: broadcast copies
    } else {
      const std::string dtype = layout[i][2].get<std::string>();
      t = Tensor::empty(Shape(layout[i][1].get<std::vector<std::int64_t>>()),
                        dtype == "float64" ? DType::float64 : dtype == "int64" ? DType::int64 : DType::float32,
                        parse_device(layout[i][3].get<std::string>()));
    }
    comm_->broadcast(t, 0);
    received.emplace_back(name, t);
  }
  optimizer.load_state(received);
  Tensor counters = from_vector(std::vector<std::int64_t>{step, skipped}, {2});
  comm_->broadcast(counters, 0);
  const auto values = counters.to_vector<std::int64_t>();
  step = values[0];
  skipped = values[1];
}

Device DataParallel::device(const std::string& run_device) const {
  Device d = parse_device(run_device);
  if (size() == 1 || d.type != DeviceType::cuda || run_device.find(':') != std::string::npos) return d;
  for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"})
    if (const char* value = std::getenv(variable); value && *value) {
      d.index = std::atoi(value);
      return d;
    }
  d.index = rank();  // no launcher said: one machine assumed
  return d;
}

void DataParallel::attach(const ViT& model) {
  if (size() == 1) return;
  std::vector<Tensor> trainable;
  for (const auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) trainable.push_back(p);
  const Device d = model.device();
  if (d.type == DeviceType::cuda && distributed::nccl_available())
    gradient_comm_ = distributed::nccl(*comm_, d.index);
  buckets_ = std::make_unique<GradientBuckets>(std::move(trainable), gradient_comm_ ? *gradient_comm_ : *comm_);
}

void DataParallel::backward(const Tensor& loss, bool average) {
  if (!buckets_ || !average) {
    loss.backward();
    return;
  }
  buckets_->backward(loss);
}

Tensor DataParallel::average(const Tensor& t) {
  if (size() == 1) return t;
  Tensor copy = fresh_copy(t);
  comm_->all_reduce(copy, distributed::Reduction::average);
  return copy;
}

std::vector<double> DataParallel::sum(const std::vector<double>& values) {
  if (size() == 1) return values;
  std::string bytes(values.size() * sizeof(double), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  const std::vector<std::string> all = comm_->all_gather(bytes);
  std::vector<double> out(values.size(), 0.0);
  for (const std::string& rank_bytes : all) {
    check(rank_bytes.size() == bytes.size(), "distributed", "the ranks reduce {} and {} values", values.size(),
          rank_bytes.size() / sizeof(double));
    std::vector<double> v(values.size());
    std::memcpy(v.data(), rank_bytes.data(), rank_bytes.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] += v[i];
  }
  return out;
}

double DataParallel::min(double value) {
  if (size() == 1) return value;
  std::string bytes(sizeof(double), '\0');
  std::memcpy(bytes.data(), &value, sizeof(double));
  double out = value;
  for (const std::string& b : comm_->all_gather(bytes)) {
    double v;
    std::memcpy(&v, b.data(), sizeof(double));
    out = std::min(out, v);
  }
  return out;
}

int DataParallel::agree_signal(int signal) {
  if (size() == 1) return signal;
  return first_nonzero(comm_->all_gather(std::to_string(signal)));
}

}  // namespace mttt::nn
