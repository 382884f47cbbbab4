// The compact deployable model format (.lsnnc): JSON metadata plus a list of layers, each stored
// with ONE encoding (dense or sparse; fp32, fp16, int8 with per-row scales, uniform k-bit codes or
// cluster indices), optionally entropy-coded (canonical Huffman, as in Deep Compression). No
// LibTorch: decoding gives back float32 NamedArrays an inference engine can use directly.
// Loading validates everything and throws ModelFileError (model_file.hpp) naming the file and
// the problem; a truncated, corrupt or foreign file never causes an out-of-bounds read.
//
// File layout (little-endian; bit fields are packed most significant bit first: the first field
// starts at bit 7 of its first byte; the last byte is padded with zero bits):
//   offset  0  char[8]  magic "LSNNCMPT"
//           8  u32      format version (kCompactModelVersion)
//          12  u32      layer count L
//          16  u64      metadata bytes m
//          24  u64      layer bytes p
//          32  u32      CRC-32 (IEEE 802.3, as zlib) of bytes [0, 32) and [36, end of file)
//          36  u32      reserved, 0
//          40  m bytes  metadata: one UTF-8 JSON object
//        40+m  p bytes  L layer records
// The file size must be exactly 40 + m + p.
//
// Layer record:
//   u16 name bytes (1..1024), name (UTF-8, unique in the file)
//   u8  rank r (0..8), u32 dims[r]                       values n = product(dims) (1 for r = 0)
//   u8  value coding (ValueCoding), u8 layout (Layout)
//   u64 body bytes, then the body:
//     [Sparse] mask section: ceil(n/8) byte symbols; bit i (C order) = 1 where the value is
//              stored; the stored count c = number of ones (Dense: c = n, all stored)
//     side information of the value coding:
//       Float32, Float16   none
//       Int8Rows           f32 scale[rows] (finite, > 0); rows = dims[0] for r >= 2, else 1
//       UniformBits        u8 bits (2..16), f32 min, f32 step (finite, step >= 0)
//       Clustered          u32 N (1..65536), f32 codebook[N] (finite)
//     values section: the c stored values in C order as symbols
//       Float32            4c byte symbols (the float32 bytes, finite)
//       Float16            2c byte symbols (IEEE binary16 bytes, finite)
//       Int8Rows           c byte symbols (int8 q in -127..127; value = scale[row] * q)
//       UniformBits        c symbols of `bits` bits (value = min + step * code)
//       Clustered          c symbols of max(1, ceil(log2 N)) bits, each < N
//                          (value = codebook[index])
//   A section of `count` symbols of `w` bits is:
//     u8 mode 0 (raw):     ceil(count * w / 8) bytes, the symbols bit-packed
//     u8 mode 1 (Huffman): u8 max code length Lh (1..24), u32 codes per length[Lh],
//                          the used symbols in canonical order (by length, then value; u8 each
//                          for w <= 8, else u16), u64 stream bytes B, B bytes of codes
//                          (canonical Huffman: a complete prefix code, or one symbol of length
//                          1 whose code is 0).
//   Every byte of the body is used; anything left over is an error.
//
// Why a bitmask for sparse layers: it costs 1 bit per weight whatever the sparsity s, while
// relative indices cost 8 (1 - s) bits per weight as uint8 deltas, or 4 (1 - s) bits plus filler
// entries for gaps over 15 as Deep Compression's 4-bit deltas (fillers also take a value slot).
// Measured on a 2048 x 512 layer, magnitude-pruned from N(0, 1) weights (bits per weight):
//   s                         50%    75%    80%    87.5%  90%
//   bitmask                   1      1      1      1      1
//   bitmask + Huffman bytes   1      0.82   0.73   0.55   0.48
//   uint8 deltas              4      2      1.6    1      0.8
//   4-bit deltas + fillers    2      1.03   0.87   0.69   0.66   (int8 fillers, per-row deltas)
// so over 50-90% the (Huffman-coded when it pays) bitmask is the smallest, needs no escapes, and
// lets a row's values be located with popcounts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "nn_compress/compress.hpp"
#include "nn_compress/model_file.hpp"

namespace linksim {

inline constexpr std::uint32_t kCompactModelVersion = 1;

/// How the stored values of a layer are represented.
enum class ValueCoding : std::uint8_t {
  Float32 = 0,
  Float16 = 1,      ///< IEEE binary16 (quantize.hpp)
  Int8Rows = 2,     ///< symmetric int8 with one scale per row (quantize_int8_rows)
  UniformBits = 3,  ///< uniform min/max k-bit codes (quantize_uniform)
  Clustered = 4,    ///< codebook + bit-packed cluster indices (cluster_weights)
};

/// Which values are stored.
enum class Layout : std::uint8_t {
  Dense = 0,   ///< all of them
  Sparse = 1,  ///< only the nonzero ones, located by a bitmask
};

/// The encoding of one layer. Writing: what to produce. Reading: what the file holds.
struct LayerEncoding {
  ValueCoding coding = ValueCoding::Float32;
  Layout layout = Layout::Dense;
  /// UniformBits: code width 2..16. Read back for Clustered: the index width
  /// max(1, ceil(log2 N)).
  unsigned bits = 8;
  /// Clustered, writing: k-means options (k <= 65536; values already taking <= k distinct values
  /// are stored exactly). Read back: clusters = the codebook size N.
  ClusterOptions clustering;
  /// Writing: Huffman-code each section where that is smaller than the raw bits.
  /// Read back: whether any section of the layer is Huffman-coded.
  bool entropy = false;
};

/// e.g. "fp32", "sparse int8-rows", "uniform 4-bit +huffman", "clustered 32 (5-bit)".
std::string describe(const LayerEncoding& e);

struct CompactLayer {
  NamedArray array;  ///< writing: the values to encode; reading: the decoded float32 values
  LayerEncoding encoding;
};

struct CompactModel {
  std::string metadata_json = "{}";  ///< one JSON object
  std::vector<CompactLayer> layers;
};

/// The file bytes of a model (what write_compact_model writes). Sparse layers store the entries
/// that are not exactly zero. Throws std::invalid_argument for an unencodable model (value count
/// not matching the shape, non-finite values, bad bit width or cluster count, a name that is
/// empty, too long or repeated, metadata that is not a JSON object).
std::string encode_compact_model(const CompactModel& model);
/// Decodes and validates file bytes; `source` names the file in error messages. Throws
/// ModelFileError.
CompactModel decode_compact_model(std::string_view bytes, const std::string& source);

/// Writes atomically (write_text_atomically of model_file.hpp).
void write_compact_model(const std::filesystem::path& file, const CompactModel& model);
/// Reads, validates and decodes. Throws ModelFileError.
CompactModel read_compact_model(const std::filesystem::path& file);

/// Storage of one layer in a file.
struct LayerStorage {
  std::string name;
  LayerEncoding encoding;
  std::string encoding_text;   ///< describe(encoding)
  std::uint64_t values = 0;    ///< product of the shape
  std::uint64_t nonzeros = 0;  ///< decoded values != 0
  std::uint64_t bytes = 0;     ///< the whole layer record (name, shape, body)
};
/// Storage of a model file, read from disk: file_bytes is the file's size on disk and equals
/// header_bytes + metadata_bytes + the sum of the layers' bytes.
struct CompactModelReport {
  std::uint64_t file_bytes = 0;
  std::uint64_t header_bytes = 0;
  std::uint64_t metadata_bytes = 0;
  std::vector<LayerStorage> layers;
};
/// Reads and validates the file (as read_compact_model). Throws ModelFileError.
CompactModelReport compact_model_report(const std::filesystem::path& file);

}  // namespace linksim
