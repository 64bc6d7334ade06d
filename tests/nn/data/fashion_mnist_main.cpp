// Catch2's runner for the Fashion-MNIST tests: exit 77 (Meson's skip) when the data is absent.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "nn/data/fashion_mnist.hpp"

int main(int argc, char** argv) {
  if (!mttt::nn::data::fashion_mnist_available()) {
    std::printf("Fashion-MNIST not found in %s (apt-get install dataset-fashion-mnist): skipped\n",
                mttt::nn::data::fashion_mnist_dir().c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
