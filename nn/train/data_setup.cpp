#include "nn/train/data_setup.hpp"

#include "nn/data/fashion_mnist.hpp"
#include "nn/data/image_folder.hpp"
#include "nn/train/data_parallel.hpp"
#include "tensor/tensor.hpp"

namespace mttt::nn {

namespace {

class Subset final : public data::ExampleSource {
 public:
  Subset(std::shared_ptr<const data::ExampleSource> source, std::vector<std::int64_t> indices)
      : source_(std::move(source)), indices_(std::move(indices)) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(indices_.size()); }
  std::int64_t num_classes() const override { return source_->num_classes(); }
  std::int64_t label(std::int64_t i) const override { return source_->label(at(i)); }
  bool load(std::int64_t i, data::Image& image, std::string& error) const override {
    return source_->load(at(i), image, error);
  }
  std::string describe(std::int64_t i) const override { return source_->describe(at(i)); }
  std::vector<std::string> class_names() const override { return source_->class_names(); }

 private:
  std::int64_t at(std::int64_t i) const { return indices_[static_cast<std::size_t>(i)]; }
  std::shared_ptr<const data::ExampleSource> source_;
  std::vector<std::int64_t> indices_;
};

std::shared_ptr<const data::ExampleSource> open_split(const DataConfig& d, bool train) {
  if (d.dataset == "fashion_mnist") {
    auto dir = d.root.empty() ? data::fashion_mnist_dir() : std::filesystem::path(d.root);
    return std::make_shared<data::FashionMnist>(train ? "train" : "test", dir);
  }
  data::JpegDecodeOptions decode;
  decode.max_pixels = d.max_image_pixels;
  return std::make_shared<data::ImageFolder>(d.root, train ? "train" : "val", decode);
}

data::PreprocessOptions train_preprocess(const TrainConfig& c) {
  const int size = static_cast<int>(c.model.image_height);
  if (c.data.augment == "inception_crop") return data::pixels_train_preprocess(size);
  if (c.data.augment == "imagenet") return data::imagenet_train_preprocess(size);
  return {};
}

data::PreprocessOptions eval_preprocess(const TrainConfig& c) {
  if (c.data.eval_resize <= 0) return {};
  return data::eval_preprocess(c.data.eval_resize, static_cast<int>(c.model.image_height));
}

void check_shape(const TrainConfig& c, const data::Pipeline& p, const char* split) {
  const data::ImageShape s = p.image_shape();
  if (s.height == 0) return;  // decided per image (an uncropped folder): checked when batched
  check(s.height == c.model.image_height && s.width == c.model.image_width && s.channels == c.model.channels, "data",
        "{} images are {}x{}x{} but the model takes {}x{}x{} (model.image, model.channels); set data.augment or "
        "data.eval_resize to crop, or change the model",
        split, s.height, s.width, s.channels, c.model.image_height, c.model.image_width, c.model.channels);
}

}  // namespace

std::shared_ptr<const data::ExampleSource> subset(std::shared_ptr<const data::ExampleSource> source, std::int64_t count,
                                                  std::uint64_t seed) {
  if (count <= 0 || count >= source->size()) return source;
  Generator generator(seed ^ 0x5eedf00dULL);
  auto order = randperm(source->size(), &generator).to_vector<std::int64_t>();
  order.resize(static_cast<std::size_t>(count));
  return std::make_shared<Subset>(std::move(source), std::move(order));
}

Datasets make_datasets(const TrainConfig& c, bool train, int rank, int ranks) {
  Datasets out;
  std::shared_ptr<const data::ExampleSource> train_source;
  if (train) {
    data::PipelineOptions o;
    o.batch_size = rank_batch_size(c, ranks);
    o.shard_index = rank;
    o.shard_count = ranks;
    o.seed = c.run.seed;
    o.shuffle = true;
    o.repeat = true;
    o.preprocess = train_preprocess(c);
    o.mixup = c.data.mixup;
    o.threads = c.data.threads;
    train_source = open_split(c.data, true);
    out.train = std::make_unique<data::Pipeline>(subset(train_source, c.data.train_subset, c.run.seed), o);
    check_shape(c, *out.train, "training");
    out.classes = out.train->num_classes();
  }
  data::PipelineOptions e;
  e.batch_size = rank_eval_batch_size(c, ranks);
  e.shard_index = rank;
  e.shard_count = ranks;
  e.seed = c.run.seed;
  e.shuffle = false;
  e.repeat = false;
  e.preprocess = eval_preprocess(c);
  e.threads = c.data.threads;
  const auto eval_source = open_split(c.data, false);
  out.eval = std::make_unique<data::Pipeline>(subset(eval_source, c.data.test_subset, c.run.seed + 1), e);
  check_shape(c, *out.eval, "evaluation");
  out.classes = out.eval->num_classes();
  // A label is an index into the sorted class folders: both splits must name the same classes.
  if (train) {
    const auto train_classes = train_source->class_names(), eval_classes = eval_source->class_names();
    check(train_classes == eval_classes, "data",
          "the training and evaluation splits have different classes, so their labels would disagree:\n  train: {}\n  "
          "eval:  {}",
          fmt::join(train_classes, ", "), fmt::join(eval_classes, ", "));
  }
  check(out.classes == c.model.classes, "data", "the data has {} classes but the model has {} (model.classes)",
        out.classes, c.model.classes);
  return out;
}

}  // namespace mttt::nn
