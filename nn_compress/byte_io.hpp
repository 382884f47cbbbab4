// Little-endian byte writing and bounds-checked reading for the model file formats
// (model_file.cpp, compact_model.cpp). Internal to nn_compress.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "nn_compress/model_file.hpp"

namespace linksim::detail {

/// Appends the bytes of v (the host is little-endian, as the formats).
template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

/// Model files are at most this large (2 GiB).
inline constexpr std::uint64_t kMaxModelFileBytes = std::uint64_t{1} << 31;

/// The bytes of a model file (any format); ModelFileError for a missing file, a folder, a
/// read error or a file over kMaxModelFileBytes.
std::string read_model_bytes(const std::filesystem::path& path);

/// Bounds-checked reader over a byte buffer; every failure is a ModelFileError prefixed by
/// `context` (the file name), so a truncated or corrupt file never reads out of bounds.
class ByteReader {
 public:
  ByteReader(std::string_view bytes, std::string context)
      : bytes_(bytes), context_(std::move(context)) {}
  [[noreturn]] void fail(const std::string& problem) const {
    throw ModelFileError(context_ + ": " + problem);
  }
  void need(std::uint64_t n, const char* what) const {
    if (n > bytes_.size() - pos_) fail(std::string("truncated (") + what + " runs past the end)");
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view take(std::uint64_t n, const char* what) {
    need(n, what);
    const std::string_view s = bytes_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  float get_finite(const char* what) {
    const auto v = get<float>(what);
    if (!std::isfinite(v)) fail(std::string(what) + " is not finite");
    return v;
  }
  std::size_t pos() const { return pos_; }
  bool done() const { return pos_ == bytes_.size(); }
  const std::string& context() const { return context_; }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
  std::string context_;
};

}  // namespace linksim::detail
