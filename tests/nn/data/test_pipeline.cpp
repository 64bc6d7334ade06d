// The pipeline on a JPEG folder the test writes: listing and its errors, corrupt files,
// determinism over thread counts, epochs, resuming, sharding, finite evaluation passes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "nn/data/image_folder.hpp"
#include "nn/data/jpeg.hpp"
#include "nn/data/pipeline.hpp"
#include "test_util.hpp"

using namespace mttt;
using namespace mttt::nn::data;

namespace {

// root/train: cat 4, dog 3 + a corrupt file, eel 5 + a truncated file: 14 files, 12 valid.
struct Folder {
  TempDir dir;
  std::filesystem::path corrupt, truncated;
  Folder() {
    write_jpeg_folder(dir.path(), "train", {{"cat", 4}, {"dog", 3}, {"eel", 5}});
    corrupt = dir.path() / "train" / "dog" / "dog_999.JPEG";
    write_file(corrupt, {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5, 6, 7});
    auto bytes = encode_jpeg(pattern_image(32, 32, 3, 50));
    bytes.resize(bytes.size() / 2);
    truncated = dir.path() / "train" / "eel" / "eel_998.jpg";
    write_file(truncated, bytes);
    write_file(dir.path() / "train" / "cat" / "notes.txt", {'h', 'i'});
    write_jpeg_folder(dir.path(), "val", {{"cat", 2}, {"dog", 2}, {"eel", 2}});
  }
  std::shared_ptr<ImageFolder> source(const std::string& split = "train") const {
    return std::make_shared<ImageFolder>(dir.path(), split);
  }
};

bool same_batch(const Batch& a, const Batch& b) {
  return a.step == b.step && a.indices == b.indices && a.images.to_vector<float>() == b.images.to_vector<float>() &&
         a.labels.dtype() == b.labels.dtype() && a.labels.to_vector<double>() == b.labels.to_vector<double>();
}

PipelineOptions train_options(int threads) {
  PipelineOptions o;
  o.batch_size = 7;
  o.seed = 42;
  o.threads = threads;
  o.preprocess = imagenet_train_preprocess(24);
  o.preprocess.randaugment.translate_const = 10;
  o.preprocess.randaugment.cutout_const = 6;
  o.mixup = 0.2;
  return o;
}

std::vector<Batch> take(Dataset& data, int n) {
  std::vector<Batch> out;
  Batch b;
  for (int i = 0; i < n && data.next(b); ++i) out.push_back(b);
  return out;
}

}  // namespace

TEST_CASE("an image folder lists sorted classes and files; its errors name the folder") {
  Folder f;
  const auto train = f.source();
  CHECK(train->class_names() == std::vector<std::string>{"cat", "dog", "eel"});
  CHECK(train->size() == 14);
  CHECK(train->num_classes() == 3);
  CHECK((train->label(0) == 0 && train->label(4) == 1 && train->label(13) == 2));
  CHECK(train->describe(4).find("dog_000.JPEG") != std::string::npos);
  Image image;
  std::string error;
  REQUIRE(train->load(0, image, error));
  CHECK((image.height == 32 && image.width == 32 && image.channels == 3));
  CHECK_FALSE(train->load(7, image, error));  // dog_999.JPEG
  CHECK_FALSE(train->load(13, image, error));  // eel_998.jpg, truncated, sorts last
  CHECK(f.source("val")->size() == 6);

  TempDir empty;
  write_jpeg_folder(empty.path(), "train", {{"a", 2}});
  std::filesystem::create_directories(empty.path() / "train" / "b");
  const auto b = (empty.path() / "train" / "b").string();
  REQUIRE_THROWS_WITH(ImageFolder(empty.path(), "train"), Catch::Contains(b) && Catch::Contains("empty class folder"));
  REQUIRE_THROWS_WITH(ImageFolder(empty.path(), "val"), Catch::Contains("val") && Catch::Contains("no such folder"));
}

TEST_CASE("an evaluation pass: every valid example once, in order, corrupt files skipped and counted") {
  Folder f;
  PipelineOptions o;
  o.batch_size = 5;
  o.shuffle = false;
  o.repeat = false;
  Pipeline eval(f.source(), o);
  CHECK(eval.image_shape() == ImageShape{32, 32, 3});
  CHECK(eval.num_steps() == 3);
  std::vector<std::int64_t> seen, labels;
  Batch b;
  int batches = 0;
  while (eval.next(b)) {
    ++batches;
    CHECK(b.images.dtype() == DType::float32);
    CHECK(b.labels.dtype() == DType::int64);
    CHECK(b.images.shape() == Shape{b.size(), 32, 32, 3});
    const auto v = b.images.to_vector<float>();
    CHECK(*std::min_element(v.begin(), v.end()) >= -1.0f);
    CHECK(*std::max_element(v.begin(), v.end()) <= 1.0f);
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    for (auto l : b.labels.to_vector<std::int64_t>()) labels.push_back(l);
  }
  CHECK(batches == 3);
  CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12});
  CHECK(labels == std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2});
  CHECK_FALSE(eval.next(b));
  const auto stats = eval.stats();
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].examples == 12);
  CHECK(stats[0].skipped == 2);
  CHECK(stats[0].skipped_sources == std::vector<std::string>{f.corrupt.string(), f.truncated.string()});

  // The values are the decoded JPEG scaled to [-1, 1].
  Image image;
  std::string error;
  REQUIRE(f.source()->load(0, image, error));
  std::vector<float> expected(image.size());
  to_unit_range(image, expected.data());
  eval.seek(0);
  REQUIRE(eval.next(b));
  const auto v = b.images.to_vector<float>();
  CHECK(std::vector<float>(v.begin(), v.begin() + static_cast<long>(expected.size())) == expected);
}

TEST_CASE("training batches depend only on (seed, step): 1 and 2 threads agree, with augmentation and mixup") {
  Folder f;
  Pipeline one(f.source(), train_options(1));
  Pipeline two(f.source(), train_options(2));
  CHECK(one.image_shape() == ImageShape{24, 24, 3});
  const auto a = take(one, 6), b = take(two, 6);
  REQUIRE((a.size() == 6 && b.size() == 6));
  for (int i = 0; i < 6; ++i) {
    CHECK(a[i].step == i);
    CHECK(same_batch(a[i], b[i]));
    CHECK(a[i].images.shape() == Shape{7, 24, 24, 3});
    CHECK(a[i].labels.shape() == Shape{7, 3});
    CHECK(a[i].mixup_weight >= 0.5);
    // Soft labels: rows sum to one, the larger weight on the row's own example.
    const auto soft = a[i].labels.to_vector<float>();
    for (int r = 0; r < 7; ++r) {
      CHECK(soft[r * 3] + soft[r * 3 + 1] + soft[r * 3 + 2] == Approx(1.0));
      const auto own = f.source()->label(a[i].indices[static_cast<std::size_t>(r)]);
      CHECK(soft[static_cast<std::size_t>(r * 3 + own)] >= 0.5f - 1e-6f);
    }
  }
  // A fresh pipeline with another seed differs.
  auto other = train_options(2);
  other.seed = 43;
  Pipeline three(f.source(), other);
  CHECK_FALSE(same_batch(take(three, 1)[0], a[0]));
  // batch_at computes the same batch synchronously.
  CHECK(same_batch(one.batch_at(4), a[4]));
}

TEST_CASE("each epoch is a new permutation; batches run across epoch boundaries") {
  Folder f;
  PipelineOptions o = train_options(2);
  Pipeline p(f.source(), o);
  auto epoch_indices = [&](int first_step) {
    std::vector<std::int64_t> v;
    for (int s = first_step; s < first_step + 2; ++s) {
      auto idx = p.indices_at(s);
      v.insert(v.end(), idx.begin(), idx.end());
    }
    return v;
  };
  const auto e0 = epoch_indices(0), e1 = epoch_indices(2), e2 = epoch_indices(4);
  std::vector<std::int64_t> all(14);
  for (int i = 0; i < 14; ++i) all[i] = i;
  for (auto e : {e0, e1, e2}) {
    auto sorted = e;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == all);
  }
  CHECK(e0 != e1);
  CHECK(e1 != e2);
  CHECK(e0 != all);
  CHECK(p.epochs_at(2) == Approx(1.0));

  // Batch size 5: step 2 holds positions 10..14, the last four of epoch 0 and the first of epoch 1.
  o.batch_size = 5;
  Pipeline q(f.source(), o);
  const auto step2 = q.indices_at(2);
  CHECK(std::vector<std::int64_t>(step2.begin(), step2.begin() + 4) ==
        std::vector<std::int64_t>(e0.begin() + 10, e0.end()));
  CHECK(step2[4] == e1[0]);
}

TEST_CASE("a run resumed at a step sees the batches of an uninterrupted run") {
  Folder f;
  Pipeline full(f.source(), train_options(2));
  const auto whole = take(full, 4);  // two epochs of 14 examples in batches of 7
  Pipeline first(f.source(), train_options(1));
  const auto part = take(first, 2);
  Pipeline resumed(f.source(), train_options(1));
  resumed.seek(2);
  const auto rest = take(resumed, 2);
  REQUIRE((part.size() == 2 && rest.size() == 2));
  CHECK(same_batch(part[0], whole[0]));
  CHECK(same_batch(part[1], whole[1]));
  CHECK(same_batch(rest[0], whole[2]));
  CHECK(same_batch(rest[1], whole[3]));
  // Seeking back on the same pipeline replays.
  full.seek(1);
  CHECK(same_batch(take(full, 1)[0], whole[1]));
}

TEST_CASE("corrupt examples in a training batch are replaced by the next valid one and counted") {
  Folder f;
  PipelineOptions o;
  o.batch_size = 7;
  o.seed = 1;
  o.shuffle = false;
  Pipeline p(f.source(), o);
  const auto batches = take(p, 4);
  // Step 1 holds 7..13 of epoch 0: 7 (corrupt) takes 8's place, 13 (truncated) takes 7's
  // neighbour cyclically, i.e. row 0's example 8.
  CHECK(batches[1].indices == std::vector<std::int64_t>{8, 8, 9, 10, 11, 12, 8});
  CHECK(batches[1].size() == 7);
  const auto v = batches[1].images.to_vector<float>();
  const std::size_t row = 32 * 32 * 3;
  CHECK(std::equal(v.begin(), v.begin() + row, v.begin() + row));
  CHECK(batches[1].labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 2, 2, 2, 2, 2, 2});
  const auto stats = p.stats();
  REQUIRE(stats.size() == 2);
  CHECK((stats[0].epoch == 0 && stats[0].examples == 14 && stats[0].skipped == 2));
  CHECK((stats[1].epoch == 1 && stats[1].examples == 14 && stats[1].skipped == 2));
}

TEST_CASE("shards partition every global batch") {
  Folder f;
  for (int count : {2, 3}) {
    std::vector<std::unique_ptr<Pipeline>> shards;
    for (int i = 0; i < count; ++i) {
      PipelineOptions o = train_options(1);
      o.batch_size = 4;
      o.shard_index = i;
      o.shard_count = count;
      shards.push_back(std::make_unique<Pipeline>(f.source(), o));
    }
    // Over the positions of whole epochs, each example appears once per epoch across shards.
    const int global = 4 * count;
    const int steps = 14 * global / std::gcd(14, global) / global;  // whole epochs
    std::map<std::int64_t, int> seen;
    for (int s = 0; s < steps; ++s)
      for (auto& shard : shards)
        for (auto i : shard->indices_at(s)) ++seen[i];
    const int epochs = steps * global / 14;
    CHECK(seen.size() == 14u);
    for (auto [index, times] : seen) CHECK(times == epochs);
    // Within one step the shards hold disjoint positions of the same global order.
    PipelineOptions whole = train_options(1);
    whole.batch_size = global;
    Pipeline single(f.source(), whole);
    std::vector<std::int64_t> joined;
    for (auto& shard : shards) {
      auto idx = shard->indices_at(1);
      joined.insert(joined.end(), idx.begin(), idx.end());
    }
    CHECK(joined == single.indices_at(1));
    // Mixup draws one weight per global step: the shards agree. Each row is mixed with the row
    // before it in the global batch: the shards' images and soft labels are the global batch's
    // rows (in steps without a corrupt example, whose row each shard refills from its own).
    CHECK(shards[0]->batch_at(3).mixup_weight == shards[1]->batch_at(3).mixup_weight);
    // Small batches (2 rows a shard), so that many steps miss both corrupt files.
    std::vector<std::unique_ptr<Pipeline>> small;
    for (int i = 0; i < count; ++i) {
      PipelineOptions o = train_options(1);
      o.batch_size = 2;
      o.shard_index = i;
      o.shard_count = count;
      small.push_back(std::make_unique<Pipeline>(f.source(), o));
    }
    PipelineOptions small_whole = train_options(1);
    small_whole.batch_size = 2 * count;
    Pipeline small_single(f.source(), small_whole);
    int compared = 0;
    for (std::int64_t s = 0; s < 20; ++s) {
      const auto global_indices = small_single.indices_at(s);
      if (std::count(global_indices.begin(), global_indices.end(), 7) + std::count(global_indices.begin(), global_indices.end(), 13))
        continue;  // dog_999 and eel_998
      ++compared;
      CAPTURE(count, s);
      const Batch want = small_single.batch_at(s);
      std::vector<float> images, labels;
      for (auto& shard : small) {
        const Batch b = shard->batch_at(s);
        const auto i = b.images.to_vector<float>(), l = b.labels.to_vector<float>();
        images.insert(images.end(), i.begin(), i.end());
        labels.insert(labels.end(), l.begin(), l.end());
      }
      CHECK(images == want.images.to_vector<float>());
      CHECK(labels == want.labels.to_vector<float>());
    }
    CHECK(compared >= 1);
  }
  PipelineOptions bad;
  bad.shard_index = 2;
  bad.shard_count = 2;
  REQUIRE_THROWS_WITH(Pipeline(f.source(), bad), Catch::Contains("shard 2 of 2"));
}

TEST_CASE("images of another size without a crop are an error naming the file") {
  TempDir dir;
  write_jpeg_folder(dir.path(), "train", {{"a", 2}});
  const auto odd = dir.path() / "train" / "a" / "z_odd.JPEG";
  write_file(odd, encode_jpeg(pattern_image(40, 32, 3, 1)));
  PipelineOptions o;
  o.batch_size = 3;
  Pipeline p(std::make_shared<ImageFolder>(dir.path(), "train"), o);
  Batch b;
  REQUIRE_THROWS_WITH(p.next(b), Catch::Contains(odd.string()) && Catch::Contains("40x32x3"));
  // With the evaluation recipe every image fits.
  o.preprocess = eval_preprocess(36, 32);
  Pipeline q(std::make_shared<ImageFolder>(dir.path(), "train"), o);
  REQUIRE(q.next(b));
  CHECK(b.images.shape() == Shape{3, 32, 32, 3});
}

TEST_CASE("a sharded evaluation pass covers every valid example once; a shard may get an empty last batch") {
  Folder f;
  std::vector<std::int64_t> seen;
  std::int64_t skipped = 0;
  for (int shard = 0; shard < 2; ++shard) {
    PipelineOptions o;
    o.batch_size = 5;
    o.shuffle = false;
    o.repeat = false;
    o.shard_index = shard;
    o.shard_count = 2;
    Pipeline p(f.source(), o);
    CHECK(p.num_steps() == 2);  // ceil(14 / 10) for both shards
    Batch b;
    std::vector<std::int64_t> sizes;
    while (p.next(b)) {
      sizes.push_back(b.size());
      seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    }
    // Shard 0: positions 0..4 and 10..13 (13 truncated); shard 1: 5..9 (7 corrupt), then none.
    CHECK(sizes == (shard == 0 ? std::vector<std::int64_t>{5, 3} : std::vector<std::int64_t>{4, 0}));
    for (const auto& s : p.stats()) skipped += s.skipped;
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12});
  CHECK(skipped == 2);
}
