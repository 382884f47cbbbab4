#include "nn_compress/model_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nn_compress/byte_io.hpp"

namespace linksim {
namespace {

static_assert(std::endian::native == std::endian::little, "model files are little-endian");

constexpr std::array<char, 8> kMagic = {'L', 'S', 'N', 'N', 'F', 'I', 'L', 'E'};
constexpr std::size_t kHeaderBytes = 40;
constexpr std::uint32_t kMaxNameBytes = 1024;
constexpr std::uint32_t kMaxRank = 8;

std::uint64_t fnv1a(std::uint64_t h, const char* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

using detail::put;

std::string kind_text(std::uint32_t kind) {
  switch (kind) {
    case static_cast<std::uint32_t>(ModelFileKind::Model):
      return "a model";
    case static_cast<std::uint32_t>(ModelFileKind::Checkpoint):
      return "a training checkpoint";
    default:
      return "an unknown kind (" + std::to_string(kind) + ")";
  }
}

}  // namespace

void write_text_atomically(const std::filesystem::path& file, const std::string& content) {
  const std::filesystem::path tmp = file.string() + ".tmp" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      std::filesystem::remove(tmp);
      throw std::runtime_error("cannot write " + tmp.string() + ": " + err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::filesystem::remove(tmp);
    throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  std::filesystem::rename(tmp, file);
}

void write_model_file(const std::filesystem::path& file, const ModelFileContents& c) {
  std::string payload;
  put<std::uint32_t>(payload, static_cast<std::uint32_t>(c.arrays.size()));
  for (const NamedArray& a : c.arrays) {
    std::uint64_t n = 1;
    for (auto d : a.shape) n *= static_cast<std::uint64_t>(d);
    if (n != a.values.size()) {
      throw std::invalid_argument("write_model_file: array " + a.name + " has " +
                                  std::to_string(a.values.size()) + " values, shape says " +
                                  std::to_string(n));
    }
    put<std::uint32_t>(payload, static_cast<std::uint32_t>(a.name.size()));
    payload += a.name;
    put<std::uint32_t>(payload, static_cast<std::uint32_t>(a.shape.size()));
    for (auto d : a.shape) put<std::int64_t>(payload, d);
    payload.append(reinterpret_cast<const char*>(a.values.data()), a.values.size() * sizeof(float));
  }
  std::string out(kMagic.data(), kMagic.size());
  put<std::uint32_t>(out, kModelFileVersion);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(c.kind));
  put<std::uint64_t>(out, c.metadata_json.size());
  put<std::uint64_t>(out, payload.size());
  std::uint64_t h = fnv1a(kFnvOffset, c.metadata_json.data(), c.metadata_json.size());
  h = fnv1a(h, payload.data(), payload.size());
  put<std::uint64_t>(out, h);
  out += c.metadata_json;
  out += payload;
  write_text_atomically(file, out);
}

ModelFileContents read_model_file(const std::filesystem::path& path, ModelFileKind expected) {
  const std::string file = path.string();
  const std::string bytes = detail::read_model_bytes(path);
  const std::uint64_t size = bytes.size();
  if (size < kHeaderBytes) {
    throw ModelFileError(file + ": " + std::to_string(size) +
                         " bytes, too short for a linksim model file (truncated or not one)");
  }
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    throw ModelFileError(file + ": not a linksim model file (wrong magic bytes)");
  }
  detail::ByteReader header(
      std::string_view(bytes).substr(kMagic.size(), kHeaderBytes - kMagic.size()), file);
  const auto version = header.get<std::uint32_t>("version");
  const auto kind = header.get<std::uint32_t>("kind");
  const auto meta_bytes = header.get<std::uint64_t>("metadata size");
  const auto payload_bytes = header.get<std::uint64_t>("payload size");
  const auto checksum = header.get<std::uint64_t>("checksum");
  if (version != kModelFileVersion) {
    throw ModelFileError(file + ": model file format version " + std::to_string(version) +
                         ", this linksim reads version " + std::to_string(kModelFileVersion));
  }
  if (kind != static_cast<std::uint32_t>(expected)) {
    throw ModelFileError(file + ": holds " + kind_text(kind) + ", expected " +
                         kind_text(static_cast<std::uint32_t>(expected)));
  }
  if (meta_bytes > size || payload_bytes > size ||
      kHeaderBytes + meta_bytes + payload_bytes != size) {
    throw ModelFileError(file + ": size " + std::to_string(size) +
                         " bytes does not match its header (" +
                         std::to_string(kHeaderBytes + meta_bytes + payload_bytes) +
                         " expected): truncated or corrupt");
  }
  const std::uint64_t h = fnv1a(kFnvOffset, bytes.data() + kHeaderBytes,
                                static_cast<std::size_t>(meta_bytes + payload_bytes));
  if (h != checksum) throw ModelFileError(file + ": checksum mismatch: the file is corrupt");

  ModelFileContents c;
  c.kind = expected;
  c.metadata_json = bytes.substr(kHeaderBytes, static_cast<std::size_t>(meta_bytes));
  if (!nlohmann::json::accept(c.metadata_json) ||
      !nlohmann::json::parse(c.metadata_json).is_object()) {
    throw ModelFileError(file + ": metadata is not a JSON object");
  }
  detail::ByteReader r(
      std::string_view(bytes).substr(static_cast<std::size_t>(kHeaderBytes + meta_bytes)),
      file + ": payload");
  const auto count = r.get<std::uint32_t>("array count");
  for (std::uint32_t i = 0; i < count; ++i) {
    NamedArray a;
    const auto name_bytes = r.get<std::uint32_t>("array name size");
    if (name_bytes == 0 || name_bytes > kMaxNameBytes) {
      throw ModelFileError(file + ": array " + std::to_string(i) + " has a bad name length");
    }
    a.name = std::string(r.take(name_bytes, "array name"));
    const auto rank = r.get<std::uint32_t>("array rank");
    if (rank > kMaxRank) throw ModelFileError(file + ": array " + a.name + " has a bad rank");
    std::uint64_t n = 1;
    for (std::uint32_t d = 0; d < rank; ++d) {
      const auto dim = r.get<std::int64_t>("array shape");
      if (dim < 0 || dim > (std::int64_t{1} << 31)) {
        throw ModelFileError(file + ": array " + a.name + " has a bad dimension");
      }
      a.shape.push_back(dim);
      n *= static_cast<std::uint64_t>(dim);
      if (n > size) throw ModelFileError(file + ": array " + a.name + " is larger than the file");
    }
    const std::string_view values = r.take(n * sizeof(float), "array values");
    a.values.resize(static_cast<std::size_t>(n));
    std::memcpy(a.values.data(), values.data(), values.size());
    c.arrays.push_back(std::move(a));
  }
  if (!r.done()) throw ModelFileError(file + ": trailing bytes after the last array");
  return c;
}

namespace detail {

std::string read_model_bytes(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw ModelFileError(file + ": no such model file");
  if (!std::filesystem::is_regular_file(path, ec)) throw ModelFileError(file + ": not a file");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw ModelFileError(file + ": cannot read (" + ec.message() + ")");
  if (size > kMaxModelFileBytes) {
    throw ModelFileError(file + ": larger than 2 GiB; not a model file");
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  std::ifstream in(path, std::ios::binary);
  if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    throw ModelFileError(file + ": cannot read");
  }
  return bytes;
}

}  // namespace detail
}  // namespace linksim
