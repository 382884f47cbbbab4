// The on-disk container of NN models and training checkpoints: a small header of our own, JSON
// metadata, then named float32 arrays. Everything is validated (magic, version, kind, sizes,
// checksum, JSON syntax, array bounds) before any byte reaches LibTorch, so a corrupt, truncated
// or foreign file is a ModelFileError with a message, never a crash.
//
// Layout (little-endian):
//   offset  0  char[8]  magic "LSNNFILE"
//           8  u32      format version (kModelFileVersion)
//          12  u32      kind (1 = model, 2 = training checkpoint)
//          16  u64      metadata bytes m
//          24  u64      payload bytes p
//          32  u64      FNV-1a 64 checksum of metadata and payload
//          40  m bytes  metadata: one UTF-8 JSON object
//        40+m  p bytes  payload: u32 array count, then per array
//                         u32 name bytes, name, u32 rank, i64 dims[rank], f32 values[prod dims]
// The file size must be exactly 40 + m + p.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace linksim {

/// A model or checkpoint file that cannot be used (missing, truncated, corrupt, not ours, wrong
/// kind or version, or not matching the architecture it names). The message names the file and
/// the problem; the CLI maps it to exit code 2.
class ModelFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::uint32_t kModelFileVersion = 1;

enum class ModelFileKind : std::uint32_t { Model = 1, Checkpoint = 2 };

/// One named float32 array, C order.
struct NamedArray {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;  ///< product(shape) values
};

struct ModelFileContents {
  ModelFileKind kind = ModelFileKind::Model;
  std::string metadata_json;  ///< one JSON object
  std::vector<NamedArray> arrays;
};

/// Writes atomically (temporary file, fsync, rename). Throws std::runtime_error on I/O failure.
void write_model_file(const std::filesystem::path& file, const ModelFileContents& contents);

/// Reads and validates a file of the expected kind. Throws ModelFileError.
ModelFileContents read_model_file(const std::filesystem::path& file, ModelFileKind expected);

/// Writes `content` to `file` atomically (temporary file in the same folder, fsync, rename).
void write_text_atomically(const std::filesystem::path& file, const std::string& content);

}  // namespace linksim
