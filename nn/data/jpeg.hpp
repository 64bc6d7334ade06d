// JPEG decoding and encoding with libjpeg-turbo's TurboJPEG API. One TurboJPEG handle per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "nn/data/image.hpp"

namespace mttt::nn::data {

// The most pixels (width x height) an image may claim (data.max_image_pixels): a 2 KB file can
// claim 65500 x 65500, 12 GB decoded.
inline constexpr std::int64_t kMaxImagePixels = 100'000'000;

struct JpegDecodeOptions {
  int channels = 3;       // 1 (grey) or 3 (RGB); grey and CMYK files are converted
  bool fast_dct = true;   // TensorFlow's default decoder (INTEGER_FAST); false: INTEGER_ACCURATE
  std::int64_t max_pixels = kMaxImagePixels;
};

// Decodes `size` bytes; returns false with the reason in `error` for corrupt or truncated data,
// or an image claiming more than `max_pixels` (checked from the header, before allocating)
// (benign libjpeg warnings, e.g. extraneous bytes before a marker, are accepted).
bool decode_jpeg(const std::uint8_t* data, std::size_t size, Image& image, std::string& error,
                 const JpegDecodeOptions& options = {});

// Encodes 1- or 3-channel images (quality 1..100, 4:4:4 chroma).
std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality = 95);

std::vector<std::uint8_t> read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes);

}  // namespace mttt::nn::data
