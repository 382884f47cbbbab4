#include "nn_compress/compact_model.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <boost/crc.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <stdexcept>

#include "nn_compress/byte_io.hpp"
#include "nn_compress/quantize.hpp"

namespace linksim {
namespace {

static_assert(std::endian::native == std::endian::little, "compact models are little-endian");

constexpr std::array<char, 8> kMagic = {'L', 'S', 'N', 'N', 'C', 'M', 'P', 'T'};
constexpr std::size_t kHeaderBytes = 40;
constexpr std::size_t kCrcOffset = 32;
constexpr std::uint64_t kMaxFileBytes = detail::kMaxModelFileBytes;
constexpr std::size_t kMaxNameBytes = 1024;
constexpr unsigned kMaxRank = 8;
/// Decoded values per file (1 GiB of float32): bounds what a small file may make us allocate
/// (a one-entry codebook has 0-bit indices).
constexpr std::uint64_t kMaxValues = std::uint64_t{1} << 28;
constexpr unsigned kMaxCodeLength = 24;
constexpr std::uint32_t kMaxClusters = 65536;
constexpr std::uint8_t kRaw = 0, kHuffman = 1;

using detail::put;

std::uint32_t crc_of(std::string_view file) {
  boost::crc_32_type crc;
  crc.process_bytes(file.data(), kCrcOffset);
  crc.process_bytes(file.data() + kCrcOffset + 4, file.size() - kCrcOffset - 4);
  return crc.checksum();
}

using Reader = detail::ByteReader;

/// Fields of up to 32 bits, most significant bit first.
class BitWriter {
 public:
  void put(std::uint32_t value, unsigned bits) {
    if (bits == 0) return;
    acc_ = (acc_ << bits) | (value & ((std::uint64_t{1} << bits) - 1));
    n_ += bits;
    while (n_ >= 8) {
      n_ -= 8;
      out_.push_back(static_cast<char>((acc_ >> n_) & 0xffU));
    }
    acc_ &= (std::uint64_t{1} << n_) - 1;
  }
  std::string finish() {
    if (n_ > 0) out_.push_back(static_cast<char>((acc_ << (8 - n_)) & 0xffU));
    n_ = 0;
    acc_ = 0;
    return std::move(out_);
  }

 private:
  std::string out_;
  std::uint64_t acc_ = 0;
  unsigned n_ = 0;
};

/// Reads bits most significant first from a byte range; the caller checks bits_left().
class BitReader {
 public:
  explicit BitReader(std::string_view bytes) : bytes_(bytes), total_(bytes.size() * 8ULL) {}
  std::uint64_t bits_left() const { return total_ - pos_; }
  unsigned bit() {
    const auto byte = static_cast<unsigned char>(bytes_[static_cast<std::size_t>(pos_ >> 3)]);
    const unsigned b = (byte >> (7U - (pos_ & 7U))) & 1U;
    ++pos_;
    return b;
  }
  std::uint32_t get(unsigned bits) {
    std::uint32_t v = 0;
    for (unsigned i = 0; i < bits; ++i) v = (v << 1) | bit();
    return v;
  }
  /// True when the unused bits of the last byte are all zero.
  bool padding_is_zero() {
    while (pos_ < total_) {
      if (bit() != 0) return false;
    }
    return true;
  }

 private:
  std::string_view bytes_;
  std::uint64_t total_, pos_ = 0;
};

// ---- symbol sections (raw bit-packed or canonical Huffman) ------------------------------------

/// Huffman code lengths (0 = unused symbol), at most kMaxCodeLength: the frequencies are
/// halved until the tree is shallow enough. One used symbol gets length 1.
std::vector<unsigned> huffman_lengths(std::vector<std::uint64_t> freq) {
  std::vector<unsigned> len(freq.size(), 0);
  std::vector<std::uint32_t> used;
  for (std::uint32_t s = 0; s < freq.size(); ++s) {
    if (freq[s] > 0) used.push_back(s);
  }
  if (used.size() == 1) len[used[0]] = 1;
  if (used.size() <= 1) return len;
  for (;;) {
    using Node = std::pair<std::uint64_t, std::size_t>;  // (weight, node id): deterministic ties
    std::priority_queue<Node, std::vector<Node>, std::greater<>> heap;
    std::vector<std::size_t> parent(used.size(), 0);
    for (std::size_t i = 0; i < used.size(); ++i) heap.emplace(freq[used[i]], i);
    while (heap.size() > 1) {
      const Node a = heap.top();
      heap.pop();
      const Node b = heap.top();
      heap.pop();
      const std::size_t id = parent.size();
      parent.push_back(0);
      parent[a.second] = id;
      parent[b.second] = id;
      heap.emplace(a.first + b.first, id);
    }
    // Nodes are created after their children: walk from the root (last) down.
    std::vector<unsigned> depth(parent.size(), 0);
    for (std::size_t i = parent.size() - 1; i-- > 0;) depth[i] = depth[parent[i]] + 1;
    unsigned longest = 0;
    for (std::size_t i = 0; i < used.size(); ++i) longest = std::max(longest, depth[i]);
    if (longest <= kMaxCodeLength) {
      for (std::size_t i = 0; i < used.size(); ++i) len[used[i]] = depth[i];
      return len;
    }
    for (const auto s : used) freq[s] = (freq[s] + 1) / 2;
  }
}

/// Appends a section holding `symbols` of `width` bits; Huffman-coded when `entropy` is set
/// and that is smaller. Returns whether Huffman was used.
bool write_section(std::string& out, const std::vector<std::uint32_t>& symbols, unsigned width,
                   bool entropy) {
  std::string raw;
  if (width == 8) {
    raw.resize(symbols.size());
    for (std::size_t i = 0; i < symbols.size(); ++i) raw[i] = static_cast<char>(symbols[i]);
  } else {
    BitWriter bw;
    for (const auto s : symbols) bw.put(s, width);
    raw = bw.finish();
  }
  if (entropy && width > 0 && !symbols.empty()) {
    std::vector<std::uint64_t> freq(std::size_t{1} << width, 0);
    for (const auto s : symbols) ++freq[s];
    const std::vector<unsigned> len = huffman_lengths(std::move(freq));
    const unsigned longest = *std::max_element(len.begin(), len.end());
    std::vector<std::uint32_t> count(longest + 1, 0), order;
    for (unsigned l = 1; l <= longest; ++l) {
      for (std::uint32_t s = 0; s < len.size(); ++s) {
        if (len[s] == l) {
          order.push_back(s);
          ++count[l];
        }
      }
    }
    std::vector<std::uint32_t> code(len.size(), 0);
    std::uint32_t next = 0;
    std::size_t at = 0;
    for (unsigned l = 1; l <= longest; ++l) {
      for (std::uint32_t i = 0; i < count[l]; ++i) code[order[at++]] = next++;
      next <<= 1;
    }
    BitWriter bw;
    for (const auto s : symbols) bw.put(code[s], len[s]);
    const std::string stream = bw.finish();
    std::string h;
    put<std::uint8_t>(h, static_cast<std::uint8_t>(longest));
    for (unsigned l = 1; l <= longest; ++l) put<std::uint32_t>(h, count[l]);
    for (const auto s : order) {
      if (width <= 8) {
        put<std::uint8_t>(h, static_cast<std::uint8_t>(s));
      } else {
        put<std::uint16_t>(h, static_cast<std::uint16_t>(s));
      }
    }
    put<std::uint64_t>(h, stream.size());
    h += stream;
    if (h.size() < raw.size()) {
      put<std::uint8_t>(out, kHuffman);
      out += h;
      return true;
    }
  }
  put<std::uint8_t>(out, kRaw);
  out += raw;
  return false;
}

/// Reads a section of `count` symbols of `width` bits (see write_section).
std::vector<std::uint32_t> read_section(Reader& r, std::uint64_t count, unsigned width,
                                        const char* what, bool& huffman) {
  const auto mode = r.get<std::uint8_t>(what);
  if (mode == kRaw) {
    const std::string_view raw = r.take(packed_bytes(count, width), what);
    std::vector<std::uint32_t> s(static_cast<std::size_t>(count), 0);
    if (width == 8) {
      for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<unsigned char>(raw[i]);
      return s;
    }
    BitReader br(raw);
    for (auto& v : s) v = br.get(width);
    if (!br.padding_is_zero()) r.fail(std::string(what) + ": nonzero padding bits");
    return s;
  }
  if (mode != kHuffman)
    r.fail(std::string(what) + ": unknown section mode " + std::to_string(mode));
  if (width == 0) r.fail(std::string(what) + ": Huffman section of 0-bit symbols");
  huffman = true;
  const auto longest = r.get<std::uint8_t>("Huffman table");
  if (longest < 1 || longest > kMaxCodeLength) {
    r.fail(std::string(what) + ": Huffman code length " + std::to_string(longest) + " outside 1.." +
           std::to_string(kMaxCodeLength));
  }
  std::vector<std::uint32_t> per_len(longest + 1U, 0);
  std::uint64_t used = 0;
  std::int64_t left = 1;  // Kraft: unused code space, in units of 2^-l
  for (unsigned l = 1; l <= longest; ++l) {
    per_len[l] = r.get<std::uint32_t>("Huffman table");
    used += per_len[l];
    left = 2 * left - static_cast<std::int64_t>(per_len[l]);
    if (left < 0 || used > (std::uint64_t{1} << width)) {
      r.fail(std::string(what) + ": invalid Huffman table (over-subscribed code)");
    }
  }
  const bool single = used == 1 && longest == 1;
  if (per_len[longest] == 0 || (left != 0 && !single)) {
    r.fail(std::string(what) + ": invalid Huffman table (incomplete code)");
  }
  std::vector<std::uint32_t> sym(static_cast<std::size_t>(used));
  std::vector<bool> seen(std::size_t{1} << width, false);
  std::size_t at = 0;
  for (unsigned l = 1; l <= longest; ++l) {
    for (std::uint32_t i = 0; i < per_len[l]; ++i, ++at) {
      const std::uint32_t s = width <= 8 ? r.get<std::uint8_t>("Huffman symbols")
                                         : r.get<std::uint16_t>("Huffman symbols");
      if (s >= seen.size() || seen[s] || (i > 0 && s <= sym[at - 1])) {
        r.fail(std::string(what) + ": invalid Huffman table (bad symbol list)");
      }
      seen[s] = true;
      sym[at] = s;
    }
  }
  const auto stream_bytes = r.get<std::uint64_t>("Huffman stream size");
  const std::string_view stream = r.take(stream_bytes, "Huffman stream");
  if (count > stream_bytes * 8) r.fail(std::string(what) + ": Huffman stream too short");
  std::vector<std::uint32_t> out(static_cast<std::size_t>(count));
  BitReader br(stream);
  for (auto& v : out) {
    std::int64_t code = 0, first = 0, index = 0;
    bool found = false;
    for (unsigned l = 1; l <= longest; ++l) {
      if (br.bits_left() == 0) r.fail(std::string(what) + ": Huffman stream ends early");
      code |= br.bit();
      const std::int64_t n = per_len[l];
      if (code - first < n) {
        v = sym[static_cast<std::size_t>(index + code - first)];
        found = true;
        break;
      }
      index += n;
      first = (first + n) << 1;
      code <<= 1;
    }
    if (!found) r.fail(std::string(what) + ": invalid Huffman code in the stream");
  }
  if (br.bits_left() >= 8 || !br.padding_is_zero()) {
    r.fail(std::string(what) + ": Huffman stream has trailing bits");
  }
  return out;
}

// ---- layers -----------------------------------------------------------------------------------

std::uint64_t value_count(const std::vector<std::int64_t>& shape) {
  std::uint64_t n = 1;
  for (const auto d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

/// Width of a stored cluster index: at least 1 bit, so that every stored value costs at least
/// one bit and a layer's value count is bounded by its body size before anything is allocated.
unsigned cluster_index_bits(std::uint64_t clusters) {
  return std::max(1U, index_bits(clusters));
}

std::vector<std::uint32_t> bytes_as_symbols(const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  return {p, p + n};
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("encode_compact_model: " + what);
}

void encode_layer(std::string& out, const CompactLayer& layer) {
  const NamedArray& a = layer.array;
  const LayerEncoding& e = layer.encoding;
  const std::string who = "layer '" + a.name + "'";
  require(!a.name.empty() && a.name.size() <= kMaxNameBytes, who + ": name of bad length");
  require(a.shape.size() <= kMaxRank, who + ": rank above 8");
  for (const auto d : a.shape) {
    require(d >= 0 && d <= std::int64_t{1} << 31, who + ": dimension out of range");
  }
  const std::uint64_t n = value_count(a.shape);
  require(n == a.values.size(), who + ": " + std::to_string(a.values.size()) +
                                    " values, the shape says " + std::to_string(n));
  require(n <= kMaxValues, who + ": too many values");
  for (const float v : a.values) require(std::isfinite(v), who + ": non-finite value");

  put<std::uint16_t>(out, static_cast<std::uint16_t>(a.name.size()));
  out += a.name;
  put<std::uint8_t>(out, static_cast<std::uint8_t>(a.shape.size()));
  for (const auto d : a.shape) put<std::uint32_t>(out, static_cast<std::uint32_t>(d));
  put<std::uint8_t>(out, static_cast<std::uint8_t>(e.coding));
  put<std::uint8_t>(out, static_cast<std::uint8_t>(e.layout));

  std::string body;
  const bool sparse = e.layout == Layout::Sparse;
  std::vector<std::size_t> stored;  // positions of the stored values
  std::vector<float> vals;
  if (sparse) {
    std::vector<std::uint32_t> mask(static_cast<std::size_t>(packed_bytes(n, 1)), 0);
    for (std::size_t i = 0; i < n; ++i) {
      if (a.values[i] != 0.0F) {
        mask[i / 8] |= 0x80U >> (i % 8);
        stored.push_back(i);
        vals.push_back(a.values[i]);
      }
    }
    write_section(body, mask, 8, e.entropy);
  } else {
    vals = a.values;
  }
  switch (e.coding) {
    case ValueCoding::Float32:
      write_section(body, bytes_as_symbols(vals.data(), vals.size() * 4), 8, e.entropy);
      break;
    case ValueCoding::Float16: {
      const std::vector<std::uint16_t> h = to_half(vals);
      write_section(body, bytes_as_symbols(h.data(), h.size() * 2), 8, e.entropy);
      break;
    }
    case ValueCoding::Int8Rows: {
      const MatrixDims md = matrix_dims(a.shape);
      const Int8Rows q = quantize_int8_rows(a.values, md.rows, md.cols);
      for (const float s : q.scale) put<float>(body, s);
      std::vector<std::uint32_t> sym(vals.size());
      for (std::size_t j = 0; j < vals.size(); ++j) {
        sym[j] = static_cast<std::uint8_t>(q.q[sparse ? stored[j] : j]);
      }
      write_section(body, sym, 8, e.entropy);
      break;
    }
    case ValueCoding::UniformBits: {
      require(e.bits >= 2 && e.bits <= 16, who + ": uniform code width must be 2..16 bits");
      const UniformQuantized q = quantize_uniform(vals, e.bits);
      put<std::uint8_t>(body, static_cast<std::uint8_t>(q.bits));
      put<float>(body, q.min);
      put<float>(body, q.step);
      write_section(body, {q.codes.begin(), q.codes.end()}, q.bits, e.entropy);
      break;
    }
    case ValueCoding::Clustered: {
      require(e.clustering.clusters >= 1 && e.clustering.clusters <= kMaxClusters,
              who + ": cluster count must be 1..65536");
      Clustered c = cluster_weights(vals, e.clustering);
      if (c.codebook.empty()) c.codebook.push_back(0.0F);
      put<std::uint32_t>(body, static_cast<std::uint32_t>(c.codebook.size()));
      for (const float v : c.codebook) put<float>(body, v);
      write_section(body, c.index, cluster_index_bits(c.codebook.size()), e.entropy);
      break;
    }
    default:
      require(false, who + ": unknown value coding");
  }
  put<std::uint64_t>(out, body.size());
  out += body;
}

/// Decodes one layer record at the reader's position; `values_so_far` counts the values of the
/// file so far (bounded by kMaxValues).
CompactLayer decode_layer(Reader& r, const std::string& file, std::uint64_t& values_so_far) {
  CompactLayer layer;
  NamedArray& a = layer.array;
  LayerEncoding& e = layer.encoding;
  const auto name_bytes = r.get<std::uint16_t>("layer name size");
  if (name_bytes == 0 || name_bytes > kMaxNameBytes) r.fail("a layer has a bad name length");
  a.name = std::string(r.take(name_bytes, "layer name"));
  Reader ctx("", file + ": layer '" + a.name + "'");  // for messages naming the layer
  const auto rank = r.get<std::uint8_t>("layer rank");
  if (rank > kMaxRank) ctx.fail("rank " + std::to_string(rank) + " above 8");
  std::uint64_t n = 1;
  for (unsigned d = 0; d < rank; ++d) {
    const auto dim = r.get<std::uint32_t>("layer shape");
    if (dim > (std::uint32_t{1} << 31)) ctx.fail("dimension out of range");
    a.shape.push_back(dim);
    n *= dim;
    if (n > kMaxValues) ctx.fail("more values than a compact model may hold");
  }
  values_so_far += n;
  if (values_so_far > kMaxValues) ctx.fail("more values than a compact model may hold");
  const auto coding = r.get<std::uint8_t>("value coding");
  const auto layout = r.get<std::uint8_t>("layout");
  if (coding > static_cast<std::uint8_t>(ValueCoding::Clustered)) {
    ctx.fail("unknown value coding " + std::to_string(coding));
  }
  if (layout > static_cast<std::uint8_t>(Layout::Sparse)) {
    ctx.fail("unknown layout " + std::to_string(layout));
  }
  e.coding = static_cast<ValueCoding>(coding);
  e.layout = static_cast<Layout>(layout);
  const auto body_bytes = r.get<std::uint64_t>("layer body size");
  // Every value costs at least 1 bit (dense) or 1/64 byte (a Huffman-coded mask byte of 8
  // values takes at least one bit): refuse before allocating.
  if (n > 64 * std::min<std::uint64_t>(body_bytes, kMaxFileBytes)) {
    ctx.fail("body of " + std::to_string(body_bytes) + " bytes too small for " + std::to_string(n) +
             " values");
  }
  Reader b(r.take(body_bytes, "layer body"), ctx.context());

  a.values.assign(static_cast<std::size_t>(n), 0.0F);
  std::vector<std::size_t> stored;
  const bool sparse = e.layout == Layout::Sparse;
  if (sparse) {
    const auto mask = read_section(b, packed_bytes(n, 1), 8, "sparsity mask", e.entropy);
    for (std::size_t i = 0; i < n; ++i) {
      if ((mask[i / 8] & (0x80U >> (i % 8))) != 0) stored.push_back(i);
    }
    for (std::size_t i = n; i < mask.size() * 8; ++i) {
      if ((mask[i / 8] & (0x80U >> (i % 8))) != 0) b.fail("sparsity mask has bits past the end");
    }
  }
  const std::uint64_t count = sparse ? stored.size() : n;
  const auto place = [&](std::size_t j, float v) {
    if (!std::isfinite(v)) b.fail("decoded value is not finite");
    a.values[sparse ? stored[j] : j] = v;
  };
  switch (e.coding) {
    case ValueCoding::Float32: {
      e.bits = 32;
      const auto sym = read_section(b, count * 4, 8, "values", e.entropy);
      for (std::size_t j = 0; j < count; ++j) {
        std::array<unsigned char, 4> raw{};
        for (std::size_t k = 0; k < 4; ++k) raw[k] = static_cast<unsigned char>(sym[4 * j + k]);
        place(j, std::bit_cast<float>(raw));
      }
      break;
    }
    case ValueCoding::Float16: {
      e.bits = 16;
      const auto sym = read_section(b, count * 2, 8, "values", e.entropy);
      for (std::size_t j = 0; j < count; ++j) {
        place(j, half_to_float(static_cast<std::uint16_t>(sym[2 * j] | (sym[2 * j + 1] << 8))));
      }
      break;
    }
    case ValueCoding::Int8Rows: {
      e.bits = 8;
      const MatrixDims md = matrix_dims(a.shape);
      b.need(std::uint64_t{md.rows} * 4, "row scales");
      std::vector<float> scale(md.rows);
      for (auto& s : scale) {
        s = b.get_finite("row scale");
        if (!(s > 0.0F)) b.fail("row scale is not positive");
      }
      const auto sym = read_section(b, count, 8, "values", e.entropy);
      for (std::size_t j = 0; j < count; ++j) {
        const auto q = static_cast<std::int8_t>(static_cast<std::uint8_t>(sym[j]));
        if (q == -128) b.fail("int8 value -128 outside -127..127");
        const std::size_t pos = sparse ? stored[j] : j;
        place(j, scale[pos / md.cols] * static_cast<float>(q));
      }
      break;
    }
    case ValueCoding::UniformBits: {
      e.bits = b.get<std::uint8_t>("code width");
      if (e.bits < 2 || e.bits > 16) b.fail("uniform code width " + std::to_string(e.bits));
      const float min = b.get_finite("uniform minimum");
      const float step = b.get_finite("uniform step");
      if (step < 0.0F) b.fail("uniform step is negative");
      const auto sym = read_section(b, count, e.bits, "values", e.entropy);
      for (std::size_t j = 0; j < count; ++j) place(j, uniform_value(min, step, sym[j]));
      break;
    }
    case ValueCoding::Clustered: {
      const auto clusters = b.get<std::uint32_t>("codebook size");
      if (clusters < 1 || clusters > kMaxClusters) {
        b.fail("codebook size " + std::to_string(clusters) + " outside 1..65536");
      }
      e.clustering.clusters = clusters;
      e.bits = cluster_index_bits(clusters);
      b.need(std::uint64_t{clusters} * 4, "codebook");
      std::vector<float> codebook(clusters);
      for (auto& v : codebook) v = b.get_finite("codebook entry");
      const auto sym = read_section(b, count, e.bits, "values", e.entropy);
      for (std::size_t j = 0; j < count; ++j) {
        if (sym[j] >= clusters) b.fail("cluster index out of range");
        place(j, codebook[sym[j]]);
      }
      break;
    }
  }
  if (!b.done()) b.fail("trailing bytes in the layer body");
  return layer;
}

CompactModel decode(std::string_view bytes, const std::string& file,
                    std::vector<LayerStorage>* storage) {
  Reader r(bytes, file);
  if (bytes.size() > kMaxFileBytes) r.fail("larger than 2 GiB; not a compact model");
  if (bytes.size() < kHeaderBytes) {
    r.fail(std::to_string(bytes.size()) +
           " bytes, too short for a compact model file (truncated or not one)");
  }
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    r.fail("not a linksim compact model file (wrong magic bytes)");
  }
  r.take(kMagic.size(), "magic");
  const auto version = r.get<std::uint32_t>("version");
  const auto layers = r.get<std::uint32_t>("layer count");
  const auto meta_bytes = r.get<std::uint64_t>("metadata size");
  const auto layer_bytes = r.get<std::uint64_t>("layer size");
  const auto crc = r.get<std::uint32_t>("checksum");
  const auto reserved = r.get<std::uint32_t>("reserved");
  if (version != kCompactModelVersion) {
    r.fail("compact model format version " + std::to_string(version) +
           ", this linksim reads version " + std::to_string(kCompactModelVersion));
  }
  if (meta_bytes > bytes.size() || layer_bytes > bytes.size() ||
      kHeaderBytes + meta_bytes + layer_bytes != bytes.size()) {
    r.fail("size " + std::to_string(bytes.size()) +
           " bytes does not match its header: " + "truncated or corrupt");
  }
  if (crc != crc_of(bytes)) r.fail("checksum mismatch: the file is corrupt");
  if (reserved != 0) r.fail("reserved header field is not 0");

  CompactModel model;
  model.metadata_json = std::string(r.take(meta_bytes, "metadata"));
  if (!nlohmann::json::accept(model.metadata_json) ||
      !nlohmann::json::parse(model.metadata_json).is_object()) {
    r.fail("metadata is not a JSON object");
  }
  std::set<std::string> names;
  std::uint64_t values = 0;
  for (std::uint32_t i = 0; i < layers; ++i) {
    const std::size_t start = r.pos();
    CompactLayer layer = decode_layer(r, file, values);
    if (!names.insert(layer.array.name).second) {
      r.fail("layer name '" + layer.array.name + "' appears twice");
    }
    if (storage != nullptr) {
      LayerStorage s;
      s.name = layer.array.name;
      s.encoding = layer.encoding;
      s.encoding_text = describe(layer.encoding);
      s.values = layer.array.values.size();
      s.nonzeros = static_cast<std::uint64_t>(std::count_if(
          layer.array.values.begin(), layer.array.values.end(), [](float v) { return v != 0.0F; }));
      s.bytes = r.pos() - start;
      storage->push_back(std::move(s));
    }
    model.layers.push_back(std::move(layer));
  }
  if (!r.done()) r.fail("trailing bytes after the last layer");
  return model;
}

}  // namespace

std::string describe(const LayerEncoding& e) {
  std::string t = e.layout == Layout::Sparse ? "sparse " : "";
  switch (e.coding) {
    case ValueCoding::Float32:
      t += "fp32";
      break;
    case ValueCoding::Float16:
      t += "fp16";
      break;
    case ValueCoding::Int8Rows:
      t += "int8-rows";
      break;
    case ValueCoding::UniformBits:
      t += "uniform " + std::to_string(e.bits) + "-bit";
      break;
    case ValueCoding::Clustered:
      t += "clustered " + std::to_string(e.clustering.clusters) + " (" +
           std::to_string(cluster_index_bits(e.clustering.clusters)) + "-bit)";
      break;
  }
  if (e.entropy) t += " +huffman";
  return t;
}

std::string encode_compact_model(const CompactModel& model) {
  require(nlohmann::json::accept(model.metadata_json) &&
              nlohmann::json::parse(model.metadata_json).is_object(),
          "metadata is not a JSON object");
  std::set<std::string> names;
  std::string body;
  for (const CompactLayer& l : model.layers) {
    require(names.insert(l.array.name).second, "layer name '" + l.array.name + "' repeated");
    encode_layer(body, l);
  }
  std::string out(kMagic.data(), kMagic.size());
  put<std::uint32_t>(out, kCompactModelVersion);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(model.layers.size()));
  put<std::uint64_t>(out, model.metadata_json.size());
  put<std::uint64_t>(out, body.size());
  put<std::uint32_t>(out, 0);  // checksum, set below
  put<std::uint32_t>(out, 0);  // reserved
  out += model.metadata_json;
  out += body;
  const std::uint32_t crc = crc_of(out);
  std::memcpy(out.data() + kCrcOffset, &crc, sizeof crc);
  return out;
}

CompactModel decode_compact_model(std::string_view bytes, const std::string& source) {
  return decode(bytes, source, nullptr);
}

void write_compact_model(const std::filesystem::path& file, const CompactModel& model) {
  write_text_atomically(file, encode_compact_model(model));
}

CompactModel read_compact_model(const std::filesystem::path& file) {
  return decode(detail::read_model_bytes(file), file.string(), nullptr);
}

CompactModelReport compact_model_report(const std::filesystem::path& file) {
  const std::string bytes = detail::read_model_bytes(file);
  CompactModelReport report;
  decode(bytes, file.string(), &report.layers);
  std::error_code ec;
  report.file_bytes = std::filesystem::file_size(file, ec);
  if (ec) throw ModelFileError(file.string() + ": cannot read (" + ec.message() + ")");
  report.header_bytes = kHeaderBytes;
  std::uint64_t meta = 0;
  std::memcpy(&meta, bytes.data() + 16, sizeof meta);
  report.metadata_bytes = meta;
  return report;
}

}  // namespace linksim
