// Fashion-MNIST from Debian's dataset-fashion-mnist: a smoke test on the real files. The
// program's main (fashion_mnist_main.cpp) exits 77 (skip) when they are absent.
#include <catch2/catch.hpp>

#include <algorithm>

#include "nn/data/fashion_mnist.hpp"
#include "nn/data/pipeline.hpp"
#include "test_util.hpp"

using namespace mttt;
using namespace mttt::nn::data;

TEST_CASE("Fashion-MNIST loads with its known shapes and first labels") {
  auto train = std::make_shared<FashionMnist>("train");
  auto test = std::make_shared<FashionMnist>("test");
  CHECK(train->size() == 60000);
  CHECK(test->size() == 10000);
  CHECK(train->num_classes() == 10);
  CHECK(train->label(0) == 9);  // the first training image is an ankle boot
  CHECK(train->class_names()[9] == "Ankle boot");
  CHECK(test->label(0) == 9);
  std::vector<int> counts(10);
  for (std::int64_t i = 0; i < train->size(); ++i) ++counts[static_cast<std::size_t>(train->label(i))];
  CHECK(counts == std::vector<int>(10, 6000));

  PipelineOptions o;
  o.batch_size = 256;
  o.shuffle = false;
  o.repeat = false;
  Pipeline p(test, o);
  CHECK(p.image_shape() == ImageShape{28, 28, 1});
  Batch b;
  REQUIRE(p.next(b));
  CHECK(b.images.shape() == Shape{256, 28, 28, 1});
  CHECK(b.labels.to_vector<std::int64_t>()[0] == 9);
  const auto v = b.images.to_vector<float>();
  CHECK(*std::min_element(v.begin(), v.end()) == -1.0f);
  CHECK(*std::max_element(v.begin(), v.end()) == 1.0f);
  std::int64_t rows = b.size();
  while (p.next(b)) rows += b.size();
  CHECK(rows == 10000);
  CHECK(p.stats().at(0).skipped == 0);

  // A training stream with the pixel recipe (inception crop back to 28 x 28), shuffled.
  PipelineOptions t;
  t.batch_size = 128;
  t.seed = 3;
  t.preprocess = pixels_train_preprocess(28);
  Pipeline q(train, t);
  REQUIRE(q.next(b));
  CHECK(b.images.shape() == Shape{128, 28, 28, 1});
  const auto labels = b.labels.to_vector<std::int64_t>();
  CHECK(std::all_of(labels.begin(), labels.end(), [](std::int64_t l) { return l >= 0 && l < 10; }));
  CHECK(q.epochs_at(60000 / 128) == Approx(1.0).epsilon(0.01));
}

TEST_CASE("a missing Fashion-MNIST says how to install it") {
  TempDir dir;
  REQUIRE_THROWS_WITH(FashionMnist("train", dir.path()), Catch::Contains("apt-get install dataset-fashion-mnist") &&
                                                              Catch::Contains(dir.path().string()));
  CHECK_FALSE(fashion_mnist_available(dir.path()));
  REQUIRE_THROWS_WITH(FashionMnist("validation"), Catch::Contains("unknown split"));
}
