// Catch2's main, in a translation unit of its own (it is slow to compile; built once, -O0).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
