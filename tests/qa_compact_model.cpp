// qa_compact_model: the compact deployable model format (nn_compress/compact_model.hpp).
// Every encoding round-trips to exactly the values its quantiser gives (computed here with the
// compress.hpp / quantize.hpp functions); file sizes match the byte layout counted by hand and
// the per-layer report; Huffman coding shrinks skewed layers and survives long codes; and every
// truncation, every single-byte change and every bit flip of a small file is a ModelFileError,
// as are crafted files with a valid checksum but bad contents (no crash, no other exception).
#define BOOST_TEST_MODULE qa_compact_model
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <bit>
#include <boost/crc.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "nn_compress/compact_model.hpp"
#include "nn_compress/compress.hpp"
#include "nn_compress/quantize.hpp"
#include "qa_common.hpp"
#include "sim/random.hpp"

using namespace linksim;

namespace {

/// A layer of N(0, sd^2) values with a fraction `sparsity` of them set to exactly 0.
NamedArray random_layer(const std::string& name, std::vector<std::int64_t> shape, double sparsity,
                        std::uint64_t seed, double sd = 0.1) {
  RandomStream rng(seed);
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  NamedArray a{name, std::move(shape), std::vector<float>(n)};
  for (auto& v : a.values) v = static_cast<float>(sd * rng.normal());
  const KeepMask m = magnitude_prune_mask(a.values, sparsity);
  apply_mask(a.values, m);
  return a;
}

/// The values a layer must decode to, computed with the quantisers directly.
std::vector<float> expected_values(const NamedArray& a, const LayerEncoding& e) {
  const bool sparse = e.layout == Layout::Sparse;
  std::vector<std::size_t> pos;
  std::vector<float> stored;
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    if (!sparse || a.values[i] != 0.0F) {
      pos.push_back(i);
      stored.push_back(a.values[i]);
    }
  }
  std::vector<float> q;
  switch (e.coding) {
    case ValueCoding::Float32:
      q = stored;
      break;
    case ValueCoding::Float16:
      for (const float v : stored) q.push_back(half_to_float(float_to_half(v)));
      break;
    case ValueCoding::Int8Rows: {
      const MatrixDims d = matrix_dims(a.shape);
      const auto all = dequantize(quantize_int8_rows(a.values, d.rows, d.cols));
      for (const auto p : pos) q.push_back(all[p]);
      break;
    }
    case ValueCoding::UniformBits:
      q = dequantize(quantize_uniform(stored, e.bits));
      break;
    case ValueCoding::Clustered:
      q = dequantize(cluster_weights(stored, e.clustering));
      break;
  }
  std::vector<float> out(a.values.size(), 0.0F);
  for (std::size_t j = 0; j < pos.size(); ++j) out[pos[j]] = q[j];
  return out;
}

LayerEncoding enc(ValueCoding c, Layout l, bool entropy = false, unsigned bits = 8,
                  std::size_t clusters = 32) {
  LayerEncoding e;
  e.coding = c;
  e.layout = l;
  e.entropy = entropy;
  e.bits = bits;
  e.clustering.clusters = clusters;
  return e;
}

const ValueCoding kCodings[] = {ValueCoding::Float32, ValueCoding::Float16, ValueCoding::Int8Rows,
                                ValueCoding::UniformBits, ValueCoding::Clustered};

/// A small model with every kind of section: raw and Huffman, dense and sparse, scalar layers.
CompactModel small_model() {
  CompactModel m;
  m.metadata_json = R"({"arch":"test","cr":4})";
  NamedArray clustered = random_layer("fc.weight", {6, 40}, 0.5, 1);
  for (auto& v : clustered.values) v = std::round(v * 20.0F) / 20.0F;  // few distinct values
  m.layers.push_back({clustered, enc(ValueCoding::Clustered, Layout::Sparse, true)});
  m.layers.push_back({random_layer("conv.weight", {4, 2, 3, 3}, 0.0, 2),
                      enc(ValueCoding::Int8Rows, Layout::Dense, true)});
  m.layers.push_back(
      {random_layer("conv.bias", {4}, 0.0, 3), enc(ValueCoding::Float32, Layout::Dense)});
  m.layers.push_back({random_layer("u.weight", {3, 16}, 0.6, 4),
                      enc(ValueCoding::UniformBits, Layout::Sparse, false, 5)});
  m.layers.push_back(
      {random_layer("h.weight", {2, 8}, 0.0, 5), enc(ValueCoding::Float16, Layout::Dense)});
  m.layers.push_back({NamedArray{"bn.num_batches_tracked", {}, {123.0F}},
                      enc(ValueCoding::Float32, Layout::Dense)});
  return m;
}

void check_same(const CompactModel& in, const CompactModel& out) {
  BOOST_TEST(out.metadata_json == in.metadata_json);
  BOOST_TEST_REQUIRE(out.layers.size() == in.layers.size());
  for (std::size_t l = 0; l < in.layers.size(); ++l) {
    const auto& a = in.layers[l];
    const auto& b = out.layers[l];
    BOOST_TEST(b.array.name == a.array.name);
    BOOST_TEST(b.array.shape == a.array.shape, boost::test_tools::per_element());
    BOOST_TEST(b.array.values == expected_values(a.array, a.encoding),
               boost::test_tools::per_element());
    BOOST_TEST((b.encoding.coding == a.encoding.coding));
    BOOST_TEST((b.encoding.layout == a.encoding.layout));
  }
}

std::string fix_crc(std::string bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), 32);
  crc.process_bytes(bytes.data() + 36, bytes.size() - 36);
  const std::uint32_t c = crc.checksum();
  std::memcpy(bytes.data() + 32, &c, 4);
  return bytes;
}

/// Decoding either succeeds or throws ModelFileError; anything else fails the test.
bool decodes_or_model_error(const std::string& bytes) {
  try {
    decode_compact_model(bytes, "fuzz.lsnnc");
    return true;
  } catch (const ModelFileError&) {
    return false;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(round_trip)

BOOST_AUTO_TEST_CASE(every_encoding_round_trips_to_its_quantised_values) {
  qa::TempDir dir("compact");
  for (const ValueCoding c : kCodings) {
    for (const Layout l : {Layout::Dense, Layout::Sparse}) {
      for (const bool entropy : {false, true}) {
        CompactModel m;
        m.metadata_json = R"({"what":"round trip"})";
        m.layers.push_back(
            {random_layer("fc.weight", {24, 50}, 0.7, 7), enc(c, l, entropy, 6, 16)});
        m.layers.push_back(
            {random_layer("conv.weight", {4, 3, 3, 3}, 0.5, 8), enc(c, l, entropy, 3, 4)});
        m.layers.push_back({random_layer("fc.bias", {24}, 0.0, 9), enc(c, l, entropy, 9, 32)});
        m.layers.push_back({NamedArray{"empty", {0, 5}, {}}, enc(c, l, entropy)});
        const auto file = dir / "m.lsnnc";
        write_compact_model(file, m);
        const CompactModel back = read_compact_model(file);
        check_same(m, back);
        if (c == ValueCoding::UniformBits) BOOST_TEST(back.layers[1].encoding.bits == 3U);
        if (c == ValueCoding::Clustered) {
          BOOST_TEST(back.layers[0].encoding.clustering.clusters == 16U);
          BOOST_TEST(back.layers[0].encoding.bits == 4U);
        }
        BOOST_TEST(decode_compact_model(encode_compact_model(m), "x").layers.size() == 4U);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(pre_clustered_and_fp32_layers_are_lossless) {
  NamedArray a = random_layer("w", {16, 32}, 0.5, 10);
  const Clustered c = cluster_weights(a.values, ClusterOptions{32, ClusterInit::KMeansPlusPlus, 3});
  a.values = dequantize(c);  // at most 32 distinct values, as after clustered fine-tuning
  for (const Layout l : {Layout::Dense, Layout::Sparse}) {
    CompactModel m;
    m.layers.push_back({a, enc(ValueCoding::Clustered, l, true)});
    m.layers.push_back({random_layer("x", {7, 9}, 0.3, 11), enc(ValueCoding::Float32, l, true)});
    const CompactModel back = decode_compact_model(encode_compact_model(m), "mem");
    BOOST_TEST(back.layers[0].array.values == a.values, boost::test_tools::per_element());
    BOOST_TEST(back.layers[1].array.values == m.layers[1].array.values,
               boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(huffman_shrinks_skewed_layers_and_handles_long_codes) {
  // Laplacian-like weights clustered to 32 values: index entropy well below 5 bits.
  RandomStream rng(12);
  NamedArray w{"w", {256, 256}, std::vector<float>(65536)};
  for (auto& v : w.values) v = static_cast<float>(0.05 * rng.normal() * rng.normal());
  CompactModel raw, huff;
  raw.layers.push_back({w, enc(ValueCoding::Clustered, Layout::Dense, false)});
  huff.layers.push_back({w, enc(ValueCoding::Clustered, Layout::Dense, true)});
  const auto raw_bytes = encode_compact_model(raw), huff_bytes = encode_compact_model(huff);
  BOOST_TEST_MESSAGE("clustered 32 raw " << raw_bytes.size() << " B, Huffman " << huff_bytes.size()
                                         << " B");
  BOOST_TEST(huff_bytes.size() < raw_bytes.size() * 0.9);
  const CompactModel back = decode_compact_model(huff_bytes, "mem");
  BOOST_TEST(back.layers[0].encoding.entropy);
  BOOST_TEST(back.layers[0].array.values == expected_values(w, huff.layers[0].encoding),
             boost::test_tools::per_element());

  // Fibonacci counts force code lengths beyond the 24-bit limit before length limiting.
  NamedArray fib{"fib", {}, {}};
  std::uint64_t f1 = 1, f2 = 1;
  for (int s = 0; s < 27; ++s) {
    fib.values.insert(fib.values.end(), f1, static_cast<float>(s));
    const auto f3 = f1 + f2;
    f1 = f2;
    f2 = f3;
  }
  fib.shape = {static_cast<std::int64_t>(fib.values.size())};
  CompactModel fm;
  fm.layers.push_back({fib, enc(ValueCoding::Clustered, Layout::Dense, true)});
  const CompactModel fb = decode_compact_model(encode_compact_model(fm), "mem");
  BOOST_TEST(fb.layers[0].encoding.entropy);
  BOOST_TEST(fb.layers[0].array.values == fib.values, boost::test_tools::per_element());

  // Incompressible bytes (int8 codes of uniform values): Huffman is tried and rejected.
  NamedArray flat{"n", {64, 64}, std::vector<float>(4096)};
  for (auto& v : flat.values) v = static_cast<float>(2.0 * rng.uniform() - 1.0);
  CompactModel noise;
  noise.layers.push_back({flat, enc(ValueCoding::Int8Rows, Layout::Dense, true)});
  BOOST_TEST(!decode_compact_model(encode_compact_model(noise), "mem").layers[0].encoding.entropy);
}

BOOST_AUTO_TEST_CASE(sizes_match_the_layout_and_the_report) {
  qa::TempDir dir("compact");
  const NamedArray a = random_layer("decoder_fc.weight", {2048, 512}, 0.5, 14);
  const std::uint64_t n = 2048 * 512, nnz = n / 2;
  const std::string meta = R"({"arch":"csinet"})";
  const auto size_of = [&](const LayerEncoding& e) {
    CompactModel m;
    m.metadata_json = meta;
    m.layers.push_back({a, e});
    const auto file = dir / "big.lsnnc";
    write_compact_model(file, m);
    const CompactModelReport r = compact_model_report(file);
    BOOST_TEST(r.file_bytes == std::filesystem::file_size(file));
    BOOST_TEST_REQUIRE(r.layers.size() == 1U);
    BOOST_TEST(r.file_bytes == r.header_bytes + r.metadata_bytes + r.layers[0].bytes);
    BOOST_TEST(r.metadata_bytes == meta.size());
    BOOST_TEST(r.layers[0].values == n);
    BOOST_TEST(r.layers[0].name == a.name);
    BOOST_TEST_MESSAGE(describe(e)
                       << ": " << r.file_bytes << " bytes (" << r.layers[0].encoding_text << ", "
                       << r.layers[0].nonzeros << " nonzeros)");
    return r;
  };
  // Layer record: u16 name size, name, u8 rank, 2 x u32 dims, u8 coding, u8 layout, u64 body.
  const std::uint64_t fixed = 40 + meta.size() + 2 + a.name.size() + 1 + 8 + 2 + 8;
  const auto dense32 = size_of(enc(ValueCoding::Float32, Layout::Dense));
  BOOST_TEST(dense32.file_bytes == fixed + 1 + 4 * n);
  BOOST_TEST(dense32.layers[0].nonzeros == nnz);
  const auto sparse8 = size_of(enc(ValueCoding::Int8Rows, Layout::Sparse));
  BOOST_TEST(sparse8.file_bytes == fixed + 1 + n / 8 + 4 * 2048 + 1 + nnz);
  BOOST_TEST(sparse8.layers[0].encoding_text == "sparse int8-rows");
  const auto sparse16 = size_of(enc(ValueCoding::Float16, Layout::Sparse));
  BOOST_TEST(sparse16.file_bytes == fixed + 1 + n / 8 + 1 + 2 * nnz);
  const auto clustered = size_of(enc(ValueCoding::Clustered, Layout::Sparse));
  BOOST_TEST(clustered.file_bytes == fixed + 1 + n / 8 + 4 + 4 * 32 + 1 + nnz * 5 / 8);
  const auto uniform = size_of(enc(ValueCoding::UniformBits, Layout::Dense, false, 4));
  BOOST_TEST(uniform.file_bytes == fixed + 1 + 4 + 4 + 1 + n / 2);
  size_of(enc(ValueCoding::Clustered, Layout::Sparse, true));
  size_of(enc(ValueCoding::Int8Rows, Layout::Sparse, true));
}

BOOST_AUTO_TEST_CASE(writer_rejects_what_it_cannot_encode) {
  CompactModel m;
  m.layers.push_back({NamedArray{"w", {2, 3}, std::vector<float>(5)}, {}});
  BOOST_CHECK_THROW(encode_compact_model(m), std::invalid_argument);
  m.layers[0].array.values.resize(6);
  m.layers[0].array.values[2] = std::nanf("");
  BOOST_CHECK_THROW(encode_compact_model(m), std::invalid_argument);
  m.layers[0].array.values[2] = 1.0F;
  BOOST_CHECK_NO_THROW(encode_compact_model(m));
  m.layers.push_back(m.layers[0]);
  BOOST_CHECK_THROW(encode_compact_model(m), std::invalid_argument);  // repeated name
  m.layers.pop_back();
  m.layers[0].encoding = enc(ValueCoding::UniformBits, Layout::Dense, false, 17);
  BOOST_CHECK_THROW(encode_compact_model(m), std::invalid_argument);
  m.layers[0].encoding = enc(ValueCoding::Clustered, Layout::Dense, false, 8, 70000);
  BOOST_CHECK_THROW(encode_compact_model(m), std::invalid_argument);
  m.layers[0].encoding = {};
  m.metadata_json = "[1, 2]";
  BOOST_CHECK_THROW(encode_compact_model(m), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(writing_is_atomic_and_replaces_the_file) {
  qa::TempDir dir("compact");
  const auto file = dir / "m.lsnnc";
  qa::write_text(file, "old contents");
  const CompactModel m = small_model();
  write_compact_model(file, m);
  check_same(m, read_compact_model(file));
  BOOST_TEST(std::distance(std::filesystem::directory_iterator(dir.path()),
                           std::filesystem::directory_iterator()) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(corruption)

BOOST_AUTO_TEST_CASE(every_truncation_is_a_model_file_error) {
  const std::string bytes = encode_compact_model(small_model());
  BOOST_TEST_MESSAGE("small model: " << bytes.size() << " bytes");
  BOOST_TEST(decodes_or_model_error(bytes));
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    BOOST_CHECK_THROW(decode_compact_model(bytes.substr(0, len), "t.lsnnc"), ModelFileError);
  }
  BOOST_CHECK_THROW(decode_compact_model(bytes + '\0', "t.lsnnc"), ModelFileError);
  // Through files too, with the file named in the message.
  qa::TempDir dir("compact");
  for (const std::size_t len :
       {std::size_t{0}, std::size_t{39}, std::size_t{40}, bytes.size() / 2, bytes.size() - 1}) {
    const auto file = dir / ("t" + std::to_string(len) + ".lsnnc");
    qa::write_text(file, bytes.substr(0, len));
    try {
      read_compact_model(file);
      BOOST_ERROR("truncated file accepted");
    } catch (const ModelFileError& e) {
      BOOST_TEST(std::string(e.what()).find(file.string()) != std::string::npos);
    }
  }
  BOOST_CHECK_THROW(read_compact_model(dir / "missing.lsnnc"), ModelFileError);
  BOOST_CHECK_THROW(read_compact_model(dir.path()), ModelFileError);
}

BOOST_AUTO_TEST_CASE(every_byte_change_and_bit_flip_is_a_model_file_error) {
  const std::string bytes = encode_compact_model(small_model());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const int delta : {1, 0x80, 0xff}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ delta);
      BOOST_CHECK_THROW(decode_compact_model(bad, "c.lsnnc"), ModelFileError);
    }
    for (int b = 0; b < 8; ++b) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ (1 << b));
      if (decodes_or_model_error(bad)) BOOST_ERROR("bit flip accepted at byte " << i);
    }
  }
}

BOOST_AUTO_TEST_CASE(foreign_and_wrong_version_files) {
  std::string bytes = encode_compact_model(small_model());
  std::string magic = bytes;
  magic[0] = 'X';
  try {
    decode_compact_model(magic, "foreign.bin");
    BOOST_ERROR("wrong magic accepted");
  } catch (const ModelFileError& e) {
    BOOST_TEST(std::string(e.what()).find("foreign.bin") != std::string::npos);
    BOOST_TEST(std::string(e.what()).find("magic") != std::string::npos);
  }
  std::string version = bytes;
  version[8] = 2;
  BOOST_CHECK_THROW(decode_compact_model(fix_crc(version), "v.lsnnc"), ModelFileError);
  // A .lsnn model file (the float32 container) is not a compact model.
  qa::TempDir dir("compact");
  write_model_file(dir / "m.lsnn", ModelFileContents{ModelFileKind::Model, "{}", {}});
  BOOST_CHECK_THROW(read_compact_model(dir / "m.lsnn"), ModelFileError);
  BOOST_CHECK_THROW(decode_compact_model(std::string(100, '\0'), "zeros"), ModelFileError);
}

BOOST_AUTO_TEST_CASE(valid_checksum_bad_contents_never_crash) {
  // With the checksum recomputed, corruptions reach the structural validation: each must decode
  // to a well-formed model or be a ModelFileError.
  const std::string bytes = encode_compact_model(small_model());
  RandomStream rng(99);
  std::size_t rejected = 0, total = 0;
  for (std::size_t i = 40; i < bytes.size(); ++i) {  // every byte after the header, 3 values
    for (const int v : {0x00, 0xff, static_cast<int>(rng.next_u64() & 0xffU)}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(v);
      rejected += decodes_or_model_error(fix_crc(bad)) ? 0 : 1;
      ++total;
    }
  }
  for (int trial = 0; trial < 20000; ++trial) {  // several random bytes at once
    std::string bad = bytes;
    const int k = 1 + static_cast<int>(rng.next_u64() % 4);
    for (int j = 0; j < k; ++j) {
      bad[40 + rng.next_u64() % (bad.size() - 40)] = static_cast<char>(rng.next_u64() & 0xffU);
    }
    rejected += decodes_or_model_error(fix_crc(bad)) ? 0 : 1;
    ++total;
  }
  BOOST_TEST_MESSAGE(rejected << " of " << total << " structurally corrupted files rejected");
  BOOST_TEST(rejected > total / 2);
}

BOOST_AUTO_TEST_CASE(crafted_bad_fields_are_named) {
  // One layer, clustered dense, 3 clusters (2-bit indices), raw: fields at known offsets.
  CompactModel m;
  m.layers.push_back(
      {NamedArray{"w", {4}, {1.0F, 2.0F, 3.0F, 1.0F}}, enc(ValueCoding::Clustered, Layout::Dense)});
  const std::string good = encode_compact_model(m);
  // header 40 | meta "{}" 2 | u16 1, "w", u8 rank 1, u32 4, u8 coding, u8 layout, u64 body
  const std::size_t body = 42 + 2 + 1 + 1 + 4 + 1 + 1 + 8;
  const auto expect = [&](std::string bad, const std::string& words) {
    try {
      decode_compact_model(fix_crc(std::move(bad)), "crafted.lsnnc");
      BOOST_ERROR("accepted: " << words);
    } catch (const ModelFileError& e) {
      BOOST_TEST(std::string(e.what()).find(words) != std::string::npos, e.what());
    }
  };
  BOOST_TEST(decodes_or_model_error(good));
  std::string s = good;
  s[body] = 9;  // codebook size 9 but only 3 entries follow
  expect(s, "truncated");
  s = good;
  s[body + 4 + 12 + 1] = static_cast<char>(0xff);  // indices 3 >= 3 clusters
  expect(s, "cluster index out of range");
  s = good;
  s[body + 4 + 12] = 2;  // unknown section mode
  expect(s, "section mode");
  s = good;
  s[42 + 2 + 1 + 1 + 4] = 7;  // unknown value coding
  expect(s, "unknown value coding");
  s = good;
  s[42 + 2 + 1] = 9;  // rank 9
  expect(s, "rank");
  s = good;
  const float nan = std::nanf("");
  std::memcpy(s.data() + body + 4, &nan, 4);
  expect(s, "not finite");
  s = good;
  s[40] = '[';
  expect(s, "JSON");
  s = good;
  s[12] = 2;  // two layers announced, one present
  expect(s, "truncated");
}

BOOST_AUTO_TEST_SUITE_END()
