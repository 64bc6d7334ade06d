#include "nn/data/jpeg.hpp"

#include <turbojpeg.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "tensor/error.hpp"

namespace mttt::nn::data {

namespace {

class Handle {
 public:
  explicit Handle(bool compress) : h_(compress ? tjInitCompress() : tjInitDecompress()) {
    check(h_ != nullptr, "jpeg", "cannot create a TurboJPEG handle: {}", tjGetErrorStr2(nullptr));
  }
  ~Handle() { tjDestroy(h_); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  tjhandle get() const { return h_; }

 private:
  tjhandle h_;
};

// A handle left by a failed call can misread the next file (libjpeg's state is not reset on
// every error path), so a failure replaces the thread's handle.
std::unique_ptr<Handle>& decompressor() {
  thread_local std::unique_ptr<Handle> handle;
  if (!handle) handle = std::make_unique<Handle>(false);
  return handle;
}

bool fail_decode(std::string& error, std::string message) {
  decompressor().reset();
  error = std::move(message);
  return false;
}

// Adobe's inverted CMYK, as most CMYK JPEGs are written (and as TensorFlow reads them).
void cmyk_to_rgb(const std::vector<std::uint8_t>& cmyk, Image& image) {
  const std::size_t n = static_cast<std::size_t>(image.height) * image.width;
  for (std::size_t i = 0; i < n; ++i) {
    const int c = cmyk[4 * i], m = cmyk[4 * i + 1], y = cmyk[4 * i + 2], k = cmyk[4 * i + 3];
    std::uint8_t rgb[3] = {static_cast<std::uint8_t>(c * k / 255), static_cast<std::uint8_t>(m * k / 255),
                           static_cast<std::uint8_t>(y * k / 255)};
    if (image.channels == 3) {
      std::memcpy(&image.pixels[3 * i], rgb, 3);
    } else {
      image.pixels[i] = static_cast<std::uint8_t>((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2] + 500) / 1000);
    }
  }
}

}  // namespace

bool decode_jpeg(const std::uint8_t* data, std::size_t size, Image& image, std::string& error,
                 const JpegDecodeOptions& options) {
  check(options.channels == 1 || options.channels == 3, "jpeg", "{} channels requested; 1 or 3 are supported",
        options.channels);
  if (size == 0) return fail_decode(error, "empty file");
  tjhandle h = decompressor()->get();
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(h, data, static_cast<unsigned long>(size), &width, &height, &subsampling, &colorspace) != 0)
    return fail_decode(error, tjGetErrorStr2(h));
  if (width <= 0 || height <= 0) return fail_decode(error, "no image in the file (a truncated header?)");
  const std::int64_t pixels = std::int64_t{width} * height;
  if (pixels > options.max_pixels)
    return fail_decode(error, fmt::format("the header claims {}x{} = {} pixels, more than the limit of {} "
                                          "(data.max_image_pixels)",
                                          width, height, pixels, options.max_pixels));
  image = Image(height, width, options.channels);
  const int flags = options.fast_dct ? TJFLAG_FASTDCT : TJFLAG_ACCURATEDCT;
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  std::vector<std::uint8_t> cmyk_pixels;
  if (cmyk) cmyk_pixels.resize(static_cast<std::size_t>(width) * height * 4);
  std::uint8_t* out = cmyk ? cmyk_pixels.data() : image.pixels.data();
  const int format = cmyk ? TJPF_CMYK : options.channels == 3 ? TJPF_RGB : TJPF_GRAY;
  if (tjDecompress2(h, data, static_cast<unsigned long>(size), out, width, 0, height, format, flags) != 0) {
    const std::string message = tjGetErrorStr2(h);
    // libjpeg's warnings leave a complete image, except a premature end (a truncated file).
    if (tjGetErrorCode(h) != TJERR_WARNING || message.find("Premature end") != std::string::npos)
      return fail_decode(error, message);
  }
  if (cmyk) cmyk_to_rgb(cmyk_pixels, image);
  return true;
}

std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality) {
  check(image.channels == 1 || image.channels == 3, "jpeg", "cannot encode {} channels", image.channels);
  thread_local Handle handle(true);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int format = image.channels == 3 ? TJPF_RGB : TJPF_GRAY;
  const int subsampling = image.channels == 3 ? TJSAMP_444 : TJSAMP_GRAY;
  const int rc = tjCompress2(handle.get(), image.pixels.data(), image.width, 0, image.height, format, &buffer, &size,
                             subsampling, quality, TJFLAG_ACCURATEDCT);
  if (rc != 0) {
    tjFree(buffer);
    fail("jpeg", "cannot encode a {}x{}x{} image: {}", image.height, image.width, image.channels,
         tjGetErrorStr2(handle.get()));
  }
  std::vector<std::uint8_t> bytes(buffer, buffer + size);
  tjFree(buffer);
  return bytes;
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  check(f != nullptr, "data", "{}: cannot open", path.string());
  std::vector<std::uint8_t> bytes;
  std::error_code ec;
  const auto expected = std::filesystem::file_size(path, ec);
  if (!ec) bytes.resize(static_cast<std::size_t>(expected));
  std::size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
  bytes.resize(got);
  std::uint8_t chunk[4096];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, f)) > 0;) bytes.insert(bytes.end(), chunk, chunk + n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  check(!failed, "data", "{}: read error", path.string());
  return bytes;
}

void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  check(static_cast<bool>(out), "data", "{}: write failed", path.string());
}

}  // namespace mttt::nn::data
