// qa_csi_dataset: HDF5 and MAT round trips of CSI datasets, and clear errors for bad files.
#define BOOST_TEST_MODULE qa_csi_dataset
#include <boost/test/unit_test.hpp>

#include <hdf5.h>
#include <matio.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "channels/csi_dataset.hpp"
#include "sim/random.hpp"

using namespace linksim;
namespace fs = std::filesystem;

namespace {

fs::path temp(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "linksim_qa_csi_dataset";
  fs::create_directories(dir);
  return dir / name;
}

arma::cx_cube random_cube(arma::uword rows, arma::uword cols, arma::uword n, std::uint64_t seed) {
  RandomStream rng(seed);
  arma::cx_cube c(rows, cols, n);
  for (auto& v : c) v = {rng.normal(), rng.normal()};
  return c;
}

/// Writes a float64 dataset of the given shape (filled with `value`) into a new HDF5 file.
void write_raw_hdf5(const fs::path& file, const char* name, const std::vector<hsize_t>& dims,
                    double value) {
  const hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t set =
      H5Dcreate2(f, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::size_t total = 1;
  for (auto d : dims) total *= d;
  std::vector<double> buf(total, value);
  H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  H5Dclose(set);
  H5Sclose(space);
  H5Fclose(f);
}

void check_rejected(const fs::path& file, const std::string& expected) {
  try {
    read_csi_file(file);
    BOOST_ERROR(file << " was accepted");
  } catch (const DatasetError& e) {
    const std::string msg = e.what();
    BOOST_TEST(msg.find(file.string()) != std::string::npos, msg);
    BOOST_TEST(msg.find(expected) != std::string::npos, msg);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(hdf5_round_trip_is_exact_in_float32) {
  CsiDataset d;
  d.h_ad = random_cube(32, 8, 5, 1);
  d.h_sf = random_cube(64, 8, 5, 2);
  d.attributes = {{"channel", "cost2100_indoor"}, {"seed", "7"}, {"empty", ""}};
  const fs::path file = temp("round_trip.h5");
  write_csi_hdf5(file, d);
  const CsiDataset back = read_csi_file(file);
  BOOST_REQUIRE(back.h_ad.n_rows == 32U && back.h_ad.n_cols == 8U && back.h_ad.n_slices == 5U);
  BOOST_REQUIRE(back.h_sf.n_rows == 64U && back.h_sf.n_slices == 5U);
  // float32 storage: relative error at most 2^-24 per component.
  for (arma::uword i = 0; i < d.h_ad.n_elem; ++i) {
    BOOST_TEST(std::abs(back.h_ad(i) - d.h_ad(i)) <= 1.2e-7 * std::abs(d.h_ad(i)) + 1e-30);
  }
  BOOST_TEST(std::abs(back.h_sf(63, 7, 4) - d.h_sf(63, 7, 4)) <= 1e-6);
  BOOST_TEST(back.attributes.at("channel") == "cost2100_indoor");
  BOOST_TEST(back.attributes.at("seed") == "7");
}

BOOST_AUTO_TEST_CASE(csinet_mat_v5_is_read_with_the_offset_removed) {
  // HT [N, 2048]: real part (32 x 32 row-major) then imaginary part, values in [0, 1].
  const std::size_t n = 3;
  std::vector<double> ht(n * 2048);  // MATLAB column-major: element (s, j) at j * n + s
  for (std::size_t s = 0; s < n; ++s) {
    for (std::size_t j = 0; j < 2048; ++j)
      ht[j * n + s] = 0.5 + 1e-4 * static_cast<double>(j) - 0.01 * s;
  }
  const fs::path file = temp("csinet_v5.mat");
  mat_t* mat = Mat_CreateVer(file.c_str(), nullptr, MAT_FT_MAT5);
  BOOST_REQUIRE(mat != nullptr);
  std::array<size_t, 2> dims{n, 2048};
  matvar_t* var = Mat_VarCreate("HT", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims.data(), ht.data(), 0);
  Mat_VarWrite(mat, var, MAT_COMPRESSION_NONE);
  Mat_VarFree(var);
  Mat_Close(mat);
  const CsiDataset d = read_csi_file(file);
  BOOST_REQUIRE(d.h_ad.n_rows == 32U && d.h_ad.n_cols == 32U && d.h_ad.n_slices == n);
  // CsiNet planes are [antenna a, delay t], k = 32 a + t; ours are [delay, antenna]: the real
  // part of H_ad(t, a) is HT(s, k) - 0.5, the imaginary part HT(s, 1024 + k) - 0.5.
  for (std::size_t s = 0; s < n; ++s) {
    for (std::size_t k : {0U, 33U, 70U, 1023U}) {
      const auto v = d.h_ad(k % 32, k / 32, s);
      BOOST_TEST(std::abs(v.real() - (1e-4 * k - 0.01 * s)) < 1e-12);
      BOOST_TEST(std::abs(v.imag() - (1e-4 * (k + 1024) - 0.01 * s)) < 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(csinet_mat_v73_layout_is_read) {
  // MAT v7.3 is HDF5; MATLAB writes HT [N, 2048] as an HDF5 [2048, N] array.
  const fs::path file = temp("csinet_v73.mat");
  write_raw_hdf5(file, "HT", {2048, 4}, 0.75);
  const CsiDataset d = read_csi_file(file);
  BOOST_TEST(d.h_ad.n_slices == 4U);
  BOOST_TEST(std::abs(d.h_ad(5, 6, 3) - std::complex<double>(0.25, 0.25)) < 1e-12);
}

BOOST_AUTO_TEST_CASE(bad_files_are_rejected_with_a_clear_message) {
  check_rejected(temp("does_not_exist.h5"), "no such file");
  const fs::path text = temp("text.h5");
  std::ofstream(text) << "not a dataset\n";
  check_rejected(text, "neither an HDF5 file nor a MAT file");
  const fs::path other = temp("other.h5");
  write_raw_hdf5(other, "something_else", {4, 4}, 1.0);
  check_rejected(other, "no dataset \"H_ad\"");
  const fs::path shape = temp("shape.h5");
  write_raw_hdf5(shape, "H_ad", {3, 3, 32, 32}, 1.0);
  check_rejected(shape, "[N, 2, rows, Nt]");
  const fs::path nan = temp("nan.h5");
  write_raw_hdf5(nan, "H_ad", {2, 2, 4, 4}, std::numeric_limits<double>::quiet_NaN());
  check_rejected(nan, "NaN");
  const fs::path ht = temp("ht_shape.mat");
  write_raw_hdf5(ht, "HT", {1000, 4}, 0.5);
  check_rejected(ht, "[N, 2048]");
}
